import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createQuickstartApp, loadQuickstartConfig, type QuickstartApp } from "@vigil/quickstart";
import { createLogger } from "@vigil/runtime";
import { waitFor } from "@vigil/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * The quick start as a person tries it: the embedded database and bus,
 * demo rules on the demo monitors, a fault injected with the curl line it
 * prints, and the alert printed in its output.
 */
describe("quick start alerts", () => {
  let app: QuickstartApp;
  let dir: string;
  const printed: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "vigil-quickstart-alerts-"));
    const env = {
      DATABASE_URL: "embedded:memory",
      QUICKSTART_STATE_DIR: join(dir, "state"),
      ARCHIVE_URL: `file:${join(dir, "archive")}`,
      QUICKSTART_DEVICES: "2",
      QUERY_PORT: "0",
      QUERY_HOST: "127.0.0.1",
      RECEIVER_PORT: "0",
      RECEIVER_HOST: "127.0.0.1",
      SIMULATOR_CONTROL_PORT: "0",
      LOG_LEVEL: "warn",
    };
    app = createQuickstartApp(loadQuickstartConfig(env), {
      logger: createLogger({ name: "quickstart", level: "warn" }),
      env,
      print: (line) => printed.push(line),
    });
    await app.start();
  });

  afterAll(async () => {
    await app?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("prints the alert a fault injected with its curl line raises", async () => {
    const banner = printed.join("\n");
    const control = /http:\/\/127\.0\.0\.1:(\d+)\/vigil\.simulator\.v1\.SimulatorService\/InjectFault/.exec(banner);
    expect(control).not.toBeNull();
    const body = /-d '(\{"deviceCode": "DEMO".*\})'/.exec(banner)![1]!;
    const res = await fetch(`http://127.0.0.1:${control![1]}/vigil.simulator.v1.SimulatorService/InjectFault`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    expect(res.status).toBe(200);
    await waitFor(
      "the printed alert",
      () => printed.some((l) => /^ALERT CRITICAL DEMO-1 patient\.heart_rate_bpm above 130 for 10s/.test(l)),
      60_000,
      200,
    );
  });
});
