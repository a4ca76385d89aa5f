import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createQuickstartApp, loadQuickstartConfig, type QuickstartApp } from "@vigil/quickstart";
import { createLogger } from "@vigil/runtime";
import { waitFor } from "@vigil/testkit";
import { afterAll, describe, expect, it } from "vitest";

/** GET over HTTPS trusting `ca` only. */
function get(url: string, ca: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca }, (res) => {
        let body = "";
        res.on("data", (c) => {
          body += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on("error", reject);
  });
}

describe("quick start with QUICKSTART_TLS=true", () => {
  const state = mkdtempSync(join(tmpdir(), "vigil-quickstart-tls-"));
  let app: QuickstartApp | undefined;
  afterAll(async () => {
    await app?.stop();
    rmSync(state, { recursive: true, force: true });
  });

  it("serves TLS on both ports with a dev CA in <state dir>/tls, its devices stream over TLS, and it says how to use it", async () => {
    const printed: string[] = [];
    app = createQuickstartApp(
      loadQuickstartConfig({
        DATABASE_URL: "embedded:memory",
        QUICKSTART_STATE_DIR: state,
        QUICKSTART_DEVICES: "2",
        QUICKSTART_TLS: "true",
        ARCHIVE_URL: `file:${join(state, "archive")}`,
      }),
      {
        logger: createLogger({ name: "quickstart-tls", level: "silent" }),
        env: { QUERY_PORT: "0", RECEIVER_PORT: "0", SIMULATOR_INTERVAL_MS: "100" },
        print: (line) => printed.push(line),
      },
    );
    await app.start();
    const caFile = join(state, "tls", "ca.pem");
    expect(existsSync(caFile)).toBe(true);
    const ca = readFileSync(caFile);
    const banner = printed.join("\n");
    expect(banner).toContain(`curl --cacert ${caFile}`);
    expect(banner).toContain(`grpcurl -cacert ${caFile} localhost:${app.receiver!.port}`);
    expect(banner).toContain(`https://localhost:${app.query!.port}`);
    expect((await get(`https://localhost:${app.query!.port}/healthz`, ca)).status).toBe(200);
    // The simulated devices reach the receiver over TLS (trusting ca.pem) and their readings are stored.
    const writer = app.writer!;
    await waitFor("readings stored", () => writer.stats.inserted > 0, 60_000, 100);
  });
});
