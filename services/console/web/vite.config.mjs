import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

// The console's front end, bundled into dist/web and served by the console itself (no CDN).
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/",
  publicDir: "public",
  build: {
    outDir: fileURLToPath(new URL("../dist/web", import.meta.url)),
    emptyOutDir: true,
    sourcemap: true,
    target: "es2022",
    chunkSizeWarningLimit: 300,
  },
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
});
