import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type http from "node:http";
import type http2 from "node:http2";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { gzipSync } from "node:zlib";

type Req = http.IncomingMessage | http2.Http2ServerRequest;
type Res = http.ServerResponse | http2.Http2ServerResponse;

/** Where the reference page is; its files are below it. */
export const API_REFERENCE_PATH = "/api-docs/";

/**
 * Headers of every reference page response. Nothing but this origin: the
 * Swagger UI files are served from here (not a CDN), the page has no inline
 * script or style, and it only fetches /openapi.json and, when "Try it out"
 * is used, the API on this origin. `data:` images are the icons in Swagger
 * UI's stylesheet.
 */
export const API_REFERENCE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
};

const PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Vigil API reference</title>
    <link rel="stylesheet" href="swagger-ui.css">
    <link rel="icon" type="image/png" href="favicon-32x32.png">
  </head>
  <body>
    <main id="swagger-ui" aria-label="Vigil API reference"></main>
    <script src="swagger-ui-bundle.js"></script>
    <script src="init.js"></script>
  </body>
</html>
`;

// Relative to the page, so the reference works behind a proxy that serves the API under a path prefix.
const INIT = `"use strict";
window.ui = SwaggerUIBundle({
  url: new URL("../openapi.json", document.baseURI).href,
  dom_id: "#swagger-ui",
  // The default sends the document to validator.swagger.io: nothing leaves this origin.
  validatorUrl: "none",
  deepLinking: true,
  defaultModelsExpandDepth: 0,
  persistAuthorization: false,
});
`;

interface StaticFile {
  body: Buffer;
  gzip: Buffer | undefined;
  type: string;
  etag: string;
  cacheControl: string;
}

/**
 * `GET /api-docs/`: an API reference page for `/openapi.json`, Swagger UI
 * from the `swagger-ui-dist` package (a dependency, read from node_modules,
 * not copied into this repository), under a strict Content-Security-Policy
 * and with nothing loaded from another origin. Files are read on the first
 * request and kept in memory. Returns false for other requests.
 */
export function apiReferenceRoute(): (req: Req, res: Res) => boolean {
  let files: Map<string, StaticFile> | undefined;
  return (req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    const path = (req.url ?? "/").split("?")[0]!;
    if (path === API_REFERENCE_PATH.slice(0, -1)) {
      // Relative: keeps a proxy's path prefix.
      res.statusCode = 308;
      res.setHeader("location", "api-docs/");
      res.end();
      return true;
    }
    if (!path.startsWith(API_REFERENCE_PATH)) return false;
    files ??= loadFiles();
    const file = files.get(path.slice(API_REFERENCE_PATH.length) || "index.html");
    if (!file) {
      res.statusCode = 404;
      res.setHeader("content-type", "text/plain; charset=utf-8");
      res.end("not found\n");
      return true;
    }
    send(req, res, file);
    return true;
  };
}

function loadFiles(): Map<string, StaticFile> {
  const dist = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
  const version = (JSON.parse(readFileSync(join(dist, "package.json"), "utf8")) as { version: string }).version;
  const entries: Array<[string, Buffer, string]> = [
    ["index.html", Buffer.from(PAGE), "text/html; charset=utf-8"],
    ["init.js", Buffer.from(INIT), "text/javascript; charset=utf-8"],
    ["swagger-ui.css", readFileSync(join(dist, "swagger-ui.css")), "text/css; charset=utf-8"],
    ["swagger-ui-bundle.js", readFileSync(join(dist, "swagger-ui-bundle.js")), "text/javascript; charset=utf-8"],
    ["favicon-32x32.png", readFileSync(join(dist, "favicon-32x32.png")), "image/png"],
  ];
  return new Map(
    entries.map(([name, body, type]) => [
      name,
      {
        body,
        gzip: type.startsWith("image/") ? undefined : gzipSync(body),
        type,
        etag: `"${createHash("sha256").update(version).update(body).digest("base64url").slice(0, 27)}"`,
        // The page is revalidated (a new version of the service may bring other files); files for an hour.
        cacheControl: name === "index.html" ? "no-cache" : "public, max-age=3600",
      },
    ]),
  );
}

function send(req: Req, res: Res, file: StaticFile): void {
  for (const [k, v] of Object.entries(API_REFERENCE_SECURITY_HEADERS)) res.setHeader(k, v);
  res.setHeader("content-type", file.type);
  res.setHeader("cache-control", file.cacheControl);
  res.setHeader("etag", file.etag);
  if (file.gzip) res.setHeader("vary", "accept-encoding");
  const known = req.headers["if-none-match"]?.split(",").map((t) => t.trim().replace(/^W\//, ""));
  if (known?.includes(file.etag) || known?.includes("*")) {
    res.statusCode = 304;
    res.end();
    return;
  }
  let body = file.body;
  if (file.gzip && /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""))) {
    body = file.gzip;
    res.setHeader("content-encoding", "gzip");
  }
  res.statusCode = 200;
  res.setHeader("content-length", body.length);
  if (req.method === "HEAD") res.end();
  else res.end(body);
}
