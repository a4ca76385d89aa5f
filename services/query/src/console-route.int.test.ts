import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consoleRoute } from "./console-route.ts";

/** A built console in a temp dir, served by consoleRoute on a real HTTP server; other requests get 418. */
describe("consoleRoute", () => {
  let dir: string;
  let server: http.Server;
  let base: string;
  const script = `console.log(${JSON.stringify("x".repeat(4000))});`;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "vigil-console-"));
    mkdirSync(join(dir, "assets"));
    writeFileSync(
      join(dir, "index.html"),
      '<!doctype html><script type="module" src="/assets/index-abc123.js"></script>',
    );
    writeFileSync(join(dir, "assets", "index-abc123.js"), script);
    writeFileSync(join(dir, "favicon.svg"), "<svg/>");
    writeFileSync(join(dir, ".source-hash"), "not served");
    const route = consoleRoute(dir);
    server = http.createServer((req, res) => {
      if (route(req, res)) return;
      res.statusCode = 418;
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves index.html with a strict CSP, revalidated on every visit", async () => {
    const res = await fetch(`${base}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(res.headers.get("cache-control")).toBe("no-cache");
    const csp = res.headers.get("content-security-policy")!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    const again = await fetch(`${base}/`, { headers: { "if-none-match": res.headers.get("etag")! } });
    expect(again.status).toBe(304);
  });

  it("answers the console's own addresses with index.html", async () => {
    for (const path of ["/fleet", "/devices/OR/7?span=300000", "/admin/dead-letters"]) {
      const res = await fetch(`${base}${path}`);
      expect(res.status, path).toBe(200);
      expect(await res.text()).toContain("/assets/index-abc123.js");
    }
  });

  it("serves hashed assets as immutable, compressed when the client accepts it", async () => {
    const plain = await fetch(`${base}/assets/index-abc123.js`, { headers: { "accept-encoding": "identity" } });
    expect(plain.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(plain.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(await plain.text()).toBe(script);
    const gzipped = await new Promise<http.IncomingMessage>((resolve) =>
      http.get(`${base}/assets/index-abc123.js`, { headers: { "accept-encoding": "gzip" } }, resolve),
    );
    expect(gzipped.headers["content-encoding"]).toBe("gzip");
    const chunks: Buffer[] = [];
    for await (const c of gzipped) chunks.push(c as Buffer);
    expect(gunzipSync(Buffer.concat(chunks)).toString()).toBe(script);
    expect(Buffer.concat(chunks).length).toBeLessThan(script.length / 10);
  });

  it("leaves API calls, other methods and files it does not hold to the other routes", async () => {
    const rpc = await fetch(`${base}/vigil.readings.v1.ReadingService/ListReadings?connect=v1`);
    expect(rpc.status).toBe(418);
    const post = await fetch(`${base}/fleet`, { method: "POST" });
    expect(post.status).toBe(418);
    expect((await fetch(`${base}/openapi.json`)).status).toBe(418);
    expect((await fetch(`${base}/.source-hash`)).status).toBe(418);
    const missingAsset = await fetch(`${base}/assets/gone-123.js`);
    expect(missingAsset.status).toBe(404);
    // No path reaches outside the directory: files are looked up in memory, not on disk.
    const traversal = await fetch(`${base}/assets/..%2F..%2F..%2Fetc%2Fpasswd`);
    expect(traversal.status).toBe(404);
    expect((await fetch(`${base}/favicon.svg`)).headers.get("content-type")).toBe("image/svg+xml");
  });

  it("says how to build the console when it is not built", async () => {
    const empty = mkdtempSync(join(tmpdir(), "vigil-console-empty-"));
    const route = consoleRoute(empty);
    const res = { statusCode: 0, headers: {} as Record<string, unknown>, body: "" };
    const handled = route(
      { method: "GET", url: "/fleet", headers: {} } as http.IncomingMessage,
      {
        setHeader: (k: string, v: unknown) => {
          res.headers[k] = v;
        },
        end: (b?: string) => {
          res.body = b ?? "";
        },
        set statusCode(code: number) {
          res.statusCode = code;
        },
      } as unknown as http.ServerResponse,
    );
    rmSync(empty, { recursive: true, force: true });
    expect(handled).toBe(true);
    expect(res.statusCode).toBe(404);
    expect(res.body).toContain("npm run build");
    expect(consoleRoute("")({ method: "GET", url: "/" } as http.IncomingMessage, {} as http.ServerResponse)).toBe(
      false,
    );
  });
});
