import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type http from "node:http";
import type http2 from "node:http2";
import { openApiDocumentUrl } from "@vigil/proto";

type Req = http.IncomingMessage | http2.Http2ServerRequest;
type Res = http.ServerResponse | http2.Http2ServerResponse;

/**
 * `GET /openapi.json`: the OpenAPI 3.1 document of the Connect-JSON API,
 * generated from the protos (`packages/proto/src/gen/openapi.json`), when
 * QUERY_API_DOCS is on. Public, since it only describes the API (readable
 * from any origin: API tools load it from their own pages), and cacheable: clients revalidate with
 * the ETag and get 304 while the document is unchanged. The returned handler
 * answers its own path and returns false for any other request.
 */
export function openApiRoute(document: Buffer = readFileSync(openApiDocumentUrl)): (req: Req, res: Res) => boolean {
  const etag = `"${createHash("sha256").update(document).digest("base64url")}"`;
  return (req, res) => {
    if (req.url?.split("?")[0] !== "/openapi.json" || (req.method !== "GET" && req.method !== "HEAD")) return false;
    res.setHeader("content-type", "application/json");
    res.setHeader("cache-control", "public, max-age=300");
    res.setHeader("access-control-allow-origin", "*");
    res.setHeader("etag", etag);
    // If-None-Match may list several tags, weak or strong; any match means the client's copy is current.
    const known = req.headers["if-none-match"]?.split(",").map((t) => t.trim().replace(/^W\//, ""));
    if (known?.includes(etag) || known?.includes("*")) {
      res.statusCode = 304;
      res.end();
      return true;
    }
    res.statusCode = 200;
    res.setHeader("content-length", document.length);
    if (req.method === "HEAD") res.end();
    else res.end(document);
    return true;
  };
}
