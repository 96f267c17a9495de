import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The bundle is committed inside the Python package and served by the API at /console/.
export default defineConfig({
  plugins: [react()],
  base: "/console/",
  build: {
    outDir: "../graphql_api/console_static",
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 1000,
  },
  server: { proxy: { "/graphql": { target: "http://127.0.0.1:8000", ws: true }, "/channels": "http://127.0.0.1:8000" } },
});
