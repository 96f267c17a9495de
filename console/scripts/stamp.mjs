// Record a hash of the console's sources (and the API schema) in the bundle, so a Python test
// can tell when the committed bundle is stale. tests/test_console_bundle.py computes the same hash.
import { createHash } from "node:crypto";
import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";

const root = new URL("../..", import.meta.url).pathname;
const inputs = ["console/index.html", "console/package.json", "console/package-lock.json",
  "console/vite.config.ts", "console/codegen.ts", "console/tsconfig.json", "graphql_api/schema.graphql"];

function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) { if (name !== "gql") walk(path); }
    else inputs.push(relative(root, path));
  }
}
walk(join(root, "console/src"));

const hash = createHash("sha256");
for (const path of [...inputs].sort()) {
  hash.update(path + "\0");
  hash.update(readFileSync(join(root, path)));
  hash.update("\0");
}
writeFileSync(join(root, "graphql_api/console_static/source-hash.txt"), hash.digest("hex") + "\n");
