import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import type http from "node:http";
import type http2 from "node:http2";
import { extname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import type { Logger } from "@vigil/runtime";

type Req = http.IncomingMessage | http2.Http2ServerRequest;
type Res = http.ServerResponse | http2.Http2ServerResponse;

/**
 * Headers on every console response. The CSP allows nothing but this origin:
 * scripts, styles, images and API calls (connect-src) come from here, no
 * inline script or style, no framing. The console's build (web/) emits no
 * inline code for this reason; its browser tests fail on any CSP violation.
 */
export const CONSOLE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; " +
    "connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "permissions-policy": "camera=(), microphone=(), geolocation=(), usb=(), serial=()",
};

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".txt": "text/plain; charset=utf-8",
  ".woff2": "font/woff2",
};
const COMPRESSIBLE = new Set([".html", ".js", ".css", ".svg", ".json", ".txt"]);
/** Vite puts content-hashed files here: they never change under their name. */
const IMMUTABLE_PREFIX = "/assets/";
const MAX_FILES = 2_000;
/** Where relative console directories start: the repository (the image's /app). */
const REPOSITORY_ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const MAX_TOTAL_BYTES = 64 * 1024 * 1024;

interface StaticFile {
  body: Buffer;
  gzip?: Buffer;
  br?: Buffer;
  type: string;
  etag: string;
  cacheControl: string;
}

/**
 * `GET /` and below: the console (`directory`, relative to the repository's
 * root unless absolute: web/dist, built by `npm run build`). Every
 * file is read and compressed (brotli, gzip) once, on the first request, and served from
 * memory, so a request never touches the file system and no path can leave
 * the directory. Hashed assets are cached for a year (immutable);
 * index.html and other unhashed files are revalidated (no-cache, ETag, 304).
 * Any other GET whose first and last path segments have no dot (RPC paths
 * always have one: /vigil.readings.v1.ReadingService/…) gets index.html, so the
 * console's own addresses (/fleet, /devices/OR/7) load it. Returns false for
 * requests it does not answer (API calls, other methods).
 */
export function consoleRoute(directory: string, log?: Logger): (req: Req, res: Res) => boolean {
  const dir = directory && resolve(REPOSITORY_ROOT, directory);
  if (dir && !existsSync(join(dir, "index.html"))) {
    log?.info({ dir }, "console not built (npm run build): / answers 404 until it is and the service restarts");
  }
  // Read on the first console request, so API-only processes (and tests) never pay for it.
  let files: Map<string, StaticFile> | undefined;
  return (req, res) => {
    if (!dir || (req.method !== "GET" && req.method !== "HEAD")) return false;
    const path = (req.url ?? "/").split("?")[0]!;
    const first = path.split("/")[1] ?? "";
    const asset = path.startsWith(IMMUTABLE_PREFIX);
    // RPC paths (/vigil.readings.v1.ReadingService/…) and other dotted names belong to other routes.
    if (first.includes(".") && path.split("/").length !== 2) return false;
    files ??= loadFiles(dir, log);
    let file = files.get(path);
    if (!file) {
      if (asset) return notFound(res, "no such file");
      if (first.includes(".")) return false;
      // A file name (/api-docs/init.js with the API docs off, /favicon.png) is not a console page.
      if ((path.split("/").pop() ?? "").includes(".")) return false;
      file = files.get("/index.html");
      if (!file) return notFound(res, "The Vigil console is not built: run `npm run build` (npm start does it).");
    }
    send(req, res, file);
    return true;
  };
}

function send(req: Req, res: Res, file: StaticFile): void {
  for (const [k, v] of Object.entries(CONSOLE_SECURITY_HEADERS)) res.setHeader(k, v);
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
  const accepted = String(req.headers["accept-encoding"] ?? "");
  let body = file.body;
  if (file.br && /\bbr\b/.test(accepted)) {
    body = file.br;
    res.setHeader("content-encoding", "br");
  } else if (file.gzip && /\bgzip\b/.test(accepted)) {
    body = file.gzip;
    res.setHeader("content-encoding", "gzip");
  }
  res.statusCode = 200;
  res.setHeader("content-length", body.length);
  if (req.method === "HEAD") res.end();
  else res.end(body);
}

function notFound(res: Res, text: string): true {
  for (const [k, v] of Object.entries(CONSOLE_SECURITY_HEADERS)) res.setHeader(k, v);
  res.statusCode = 404;
  res.setHeader("content-type", "text/plain; charset=utf-8");
  res.setHeader("cache-control", "no-store");
  res.end(`${text}\n`);
  return true;
}

function loadFiles(dir: string, log?: Logger): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  if (!existsSync(dir)) return files;
  let total = 0;
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const full = join(d, entry.name);
      if (entry.isDirectory()) {
        walk(full);
        continue;
      }
      if (!entry.isFile()) continue;
      const ext = extname(entry.name).toLowerCase();
      const type = TYPES[ext];
      if (!type) continue;
      total += statSync(full).size;
      if (files.size >= MAX_FILES || total > MAX_TOTAL_BYTES) {
        throw new Error(`${dir} holds more than the console's build (over ${MAX_FILES} files or 64 MiB)`);
      }
      const body = readFileSync(full);
      const path = `/${relative(dir, full).split(sep).join("/")}`;
      const compress = COMPRESSIBLE.has(ext) && body.length > 512;
      files.set(path, {
        body,
        gzip: compress ? gzipSync(body, { level: 9 }) : undefined,
        br: compress
          ? brotliCompressSync(body, {
              params: { [constants.BROTLI_PARAM_QUALITY]: 9, [constants.BROTLI_PARAM_SIZE_HINT]: body.length },
            })
          : undefined,
        type,
        etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`,
        cacheControl: path.startsWith(IMMUTABLE_PREFIX) ? "public, max-age=31536000, immutable" : "no-cache",
      });
    }
  };
  walk(dir);
  log?.debug({ dir, files: files.size, bytes: total }, "console files loaded");
  return files;
}
