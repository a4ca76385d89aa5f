import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Pipeline } from "./pipeline.ts";
import { startTestPipeline } from "./test-pipeline.ts";

/**
 * Debian's Chromium, headless: loads a page, runs its scripts, prints the resulting DOM on stdout
 * and the page's console (CSP violations, failed loads) on stderr. Every host but 127.0.0.1 is
 * unresolvable, as on a machine without internet access: a page that loads anything from a CDN
 * shows it as a failed load.
 */
async function chromium(url: string): Promise<{ dom: string; console: string[] }> {
  const profile = await mkdtemp(join(tmpdir(), "vigil-chromium-"));
  try {
    const { stdout, stderr } = await promisify(execFile)(
      process.env.CHROMIUM ?? "chromium",
      [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        `--user-data-dir=${profile}`,
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--virtual-time-budget=20000",
        "--enable-logging=stderr",
        "--v=0",
        "--dump-dom",
        url,
      ],
      { maxBuffer: 64 * 1024 * 1024, timeout: 90_000 },
    );
    return { dom: stdout, console: stderr.split("\n").filter((l) => l.includes(":CONSOLE")) };
  } finally {
    await rm(profile, { recursive: true, force: true });
  }
}

describe("the API reference page (QUERY_API_DOCS)", () => {
  let pipeline: Pipeline;
  let base: string;

  beforeAll(async () => {
    pipeline = await startTestPipeline({ env: { QUERY_API_DOCS: "true" } });
    base = pipeline.queryUrl;
  });
  afterAll(() => pipeline?.stop());

  it("is served next to /openapi.json under a strict Content-Security-Policy, from this origin only", async () => {
    const bare = await fetch(`${base}/api-docs`, { redirect: "manual" });
    expect(bare.status).toBe(308);
    expect(bare.headers.get("location")).toBe("api-docs/");

    const page = await fetch(`${base}/api-docs/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const csp = page.headers.get("content-security-policy")!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self';");
    expect(csp).toContain("style-src 'self';");
    expect(csp).not.toContain("unsafe");
    const html = await page.text();
    // Every script and stylesheet is a file of this origin; none inline.
    const sources = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(sources.sort()).toEqual(["favicon-32x32.png", "init.js", "swagger-ui-bundle.js", "swagger-ui.css"]);
    expect(html).not.toMatch(/<script>|<style|style="/);
    for (const file of sources) {
      const res = await fetch(`${base}/api-docs/${file}`);
      expect(res.status, file).toBe(200);
      expect(res.headers.get("content-security-policy"), file).toBe(csp);
      const etag = res.headers.get("etag")!;
      expect((await fetch(`${base}/api-docs/${file}`, { headers: { "if-none-match": etag } })).status).toBe(304);
    }
    expect((await fetch(`${base}/api-docs/../package.json`)).status).not.toBe(200);
    expect((await fetch(`${base}/api-docs/nope.js`)).status).toBe(404);
  });

  it("shows every operation of /openapi.json in a real browser, without a CSP violation or a request elsewhere", async () => {
    const doc = (await (await fetch(`${base}/openapi.json`)).json()) as { paths: Record<string, object> };
    const operations = Object.values(doc.paths).reduce((n, p) => n + Object.keys(p).length, 0);
    // The deep link opens ListReadings: its parameters, schemas and highlighted examples render too.
    const { dom, console } = await chromium(
      `${base}/api-docs/#/vigil.readings.v1.ReadingService/vigil.readings.v1.ReadingService.ListReadings`,
    );
    expect(console).toEqual([]);
    expect(dom).toContain("Vigil API");
    const shown = [...dom.matchAll(/class="opblock-summary-path" data-path="([^"]+)"/g)].map((m) => m[1]);
    expect(shown).toHaveLength(operations);
    expect(new Set(shown)).toEqual(new Set(Object.keys(doc.paths)));
    expect(dom).toMatch(/class="opblock-body"/);
    expect(dom).toMatch(/class="highlight-code"/);
  });
});
