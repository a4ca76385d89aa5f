import { existsSync, writeFileSync } from "node:fs";
import react from "@vitejs/plugin-react";
import { defineConfig, type Plugin } from "vite";
import { distDir, sourceHash, stampFile } from "./scripts/source-hash.ts";

/** Records which sources dist/ was built from (scripts/build-if-stale.ts reads it). */
const sourceStamp: Plugin = {
  name: "vigil-source-stamp",
  apply: "build",
  closeBundle(error?: Error) {
    // Not after a failed build: its error is the one to see.
    if (!error && existsSync(distDir)) writeFileSync(stampFile, `${sourceHash()}\n`);
  },
};

/**
 * The console is built to static files in dist/ and served by the query
 * service at / (services/query/src/console-route.ts). `npm run dev -w @vigil/web`
 * serves it with hot reload and sends API calls to VIGIL_API (default: the
 * quick start's query port).
 */
export default defineConfig({
  plugins: [react(), sourceStamp],
  build: {
    target: "es2022",
    // The Content-Security-Policy allows files from the origin only: no data: URLs for assets.
    assetsInlineLimit: 0,
    // Every browser the console supports preloads modules natively.
    modulePreload: { polyfill: false },
    // Charts are a chunk of their own; budget of the first page's JavaScript: web/tests/bundle-budget.spec.ts.
    chunkSizeWarningLimit: 400,
  },
  server: {
    proxy: {
      "^/(vigil|grpc)\\.": process.env.VIGIL_API ?? "http://127.0.0.1:8080",
    },
  },
});
