import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { failedThresholds, findK6, runK6 } from "./k6.ts";
import { type LocalStack, startLocalStack } from "./local-stack.ts";
import { runSmoke } from "./smoke.ts";

/**
 * What `npm run load:smoke` runs, as CI runs it: k6 (built by
 * scripts/install-tools.sh, which `npm test` runs first) against a private
 * stack with real PostgreSQL and NATS JetStream.
 */
describe("load:smoke (k6)", () => {
  const k6 = findK6();
  let stack: LocalStack;
  let summaryDir: string;

  beforeAll(async () => {
    if (!k6) throw new Error("k6 is not installed: run scripts/install-tools.sh k6 (npm test does)");
    summaryDir = mkdtempSync(join(tmpdir(), "vigil-load-smoke-"));
    // Over TLS, as a hospital deployment runs: k6's gRPC client trusts the stack's CA file,
    // its HTTP client the same CA through SSL_CERT_FILE.
    stack = await startLocalStack({ devices: 10, tls: true });
  });
  afterAll(async () => {
    await stack?.stop();
    if (summaryDir) rmSync(summaryDir, { recursive: true, force: true });
  });

  it("passes a 20-second smoke of ingest.js and query.js at once, every acked reading stored", async () => {
    const result = await runSmoke(stack, { k6: k6!, summaryDir });
    const { ingest, query } = result.report as Record<string, Record<string, number | string[]>>;
    expect(result.ingest.code, result.ingest.output.slice(-4000)).toBe(0);
    expect(result.query.code, result.query.output.slice(-4000)).toBe(0);
    expect(ingest!.acks).toBeGreaterThan(50);
    // Every 10th batch is invalid on purpose: rejected, and nothing else.
    expect(ingest!.rejects_expected).toBeGreaterThan(0);
    expect(ingest!.rejects_unexpected).toBe(0);
    expect(query!.requests).toBeGreaterThan(50);
    expect(query!.list_ms_p95).toBeGreaterThan(0);
    expect(query!.deep_page_ms_p95).toBeGreaterThan(0);
    expect(query!.stats_ms_p95).toBeGreaterThan(0);
    // Summaries as JSON: k6's own for each script, and the runner's report.
    expect(JSON.parse(readFileSync(join(summaryDir, "ingest-smoke.json"), "utf8")).metrics.ingest_acks).toBeDefined();
    expect(JSON.parse(readFileSync(join(summaryDir, "load-smoke.json"), "utf8")).ok).toBe(true);

    // What k6 saw acked (plus the seed) is in the table once the writer has caught up.
    const seeded = 10 * 20 * 2 * 20;
    const acked = seeded + Number(ingest!.readings_acked);
    const client = new pg.Client({ connectionString: stack.databaseUrl });
    await client.connect();
    try {
      let stored = 0;
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        stored = Number((await client.query("SELECT count(*) AS n FROM readings")).rows[0].n);
        if (stored >= acked) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(stored).toBeGreaterThanOrEqual(acked);
    } finally {
      await client.end();
    }
  });

  it("fails the run (k6 exit code 99) when a threshold fails", async () => {
    const run = await runK6(
      k6!,
      "ingest.js",
      {
        SCENARIO: "smoke",
        DURATION: "3s",
        RECEIVER_ADDR: stack.receiverAddr,
        RECEIVER_CA_FILE: stack.caFile!,
        DEVICES_FILE: stack.devicesFile,
        INGEST_VUS: "1",
        INGEST_ACK_P99_MS: "0",
      },
      { summaryDir, name: "ingest-impossible" },
    );
    expect(run.code, run.output.slice(-3000)).toBe(99);
    expect(failedThresholds(run.summary)).toEqual(["ingest_ack_latency p(99)<0"]);
  });

  it("cannot stream in plaintext to the TLS receiver: every stream fails, nothing is acked", async () => {
    const run = await runK6(
      k6!,
      "ingest.js",
      {
        SCENARIO: "smoke",
        DURATION: "3s",
        RECEIVER_ADDR: stack.receiverAddr,
        RECEIVER_TLS: "false",
        DEVICES_FILE: stack.devicesFile,
        INGEST_VUS: "1",
        INGEST_ACK_WAIT_SECONDS: "1",
      },
      { summaryDir, name: "ingest-plaintext" },
    );
    expect(run.code, run.output.slice(-3000)).toBe(99);
    const metrics = run.summary?.metrics ?? {};
    expect(metrics.ingest_acks?.values.count ?? 0).toBe(0);
    expect(failedThresholds(run.summary).join()).toMatch(/ingest_/);
  });
});
