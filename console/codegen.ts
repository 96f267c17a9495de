import type { CodegenConfig } from "@graphql-codegen/cli";

// Typed documents from the API's committed SDL: a schema change that breaks a query fails the build.
const config: CodegenConfig = {
  schema: "../graphql_api/schema.graphql",
  documents: ["src/**/*.tsx", "src/**/*.ts", "!src/gql/**/*"],
  generates: {
    "./src/gql/": {
      preset: "client",
      config: { documentMode: "string", scalars: { DateTime: "string", JSON: "any" }, enumsAsTypes: true },
      presetConfig: { fragmentMasking: false },
    },
  },
  silent: true,
};
export default config;
