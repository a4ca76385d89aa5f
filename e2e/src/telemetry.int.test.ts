import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { migrateToLatest, openDatabase, type VigilDatabase } from "@vigil/db";
import { createDevice } from "@vigil/devices";
import { health } from "@vigil/proto";
import type { DeviceIdentity } from "@vigil/simulator";
import {
  type CollectedSpan,
  createTestDatabase,
  freePort,
  type NatsServer,
  type OtlpReceiver,
  repoRoot,
  type ServiceProcess,
  startNats,
  startOtlpReceiver,
  startServiceProcess,
  startTcpProxy,
  type TcpProxy,
  waitFor,
} from "@vigil/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { runFleetToCompletion } from "./fleet-run.ts";
import { ADMIN_PASSWORD } from "./pipeline.ts";
import { storedBatches } from "./stored-batches.ts";

const SPAN_KIND = { server: 2, producer: 4, consumer: 5 };

/**
 * Tracing, metrics and health of the real services: receiver, writer and
 * query as their own processes (tracing loaded with --import, as in
 * production), exporting OTLP/JSON to a receiver in this test, with the
 * database behind a proxy the test can cut.
 */
describe("telemetry", () => {
  let nats: NatsServer;
  let otlp: OtlpReceiver;
  let dbProxy: TcpProxy;
  let database: VigilDatabase;
  let env: Record<string, string>;
  let receiverPort: number;
  let queryPort: number;
  const ops = { receiver: 0, writer: 0, query: 0 };
  const services: ServiceProcess[] = [];
  const tmp = mkdtempSync(join(tmpdir(), "vigil-telemetry-"));
  const metricsUrl = (service: keyof typeof ops) => `http://127.0.0.1:${ops[service]}/metrics`;

  beforeAll(async () => {
    nats = await startNats();
    otlp = await startOtlpReceiver();
    const directUrl = new URL(await createTestDatabase(inject("postgresUrl")));
    database = await openDatabase(directUrl.href);
    await migrateToLatest(database.db);
    dbProxy = await startTcpProxy(directUrl.hostname, Number(directUrl.port));
    const proxiedUrl = new URL(directUrl);
    proxiedUrl.host = `127.0.0.1:${dbProxy.port}`;
    [receiverPort, queryPort, ops.receiver, ops.writer, ops.query] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    env = {
      DATABASE_URL: proxiedUrl.href,
      NATS_URL: nats.url,
      LOG_LEVEL: "info",
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      // Every trace, exported within 100 ms.
      OTEL_TRACES_SAMPLER: "parentbased_always_on",
      OTEL_BSP_SCHEDULE_DELAY: "100",
      RECEIVER_HOST: "127.0.0.1",
      RECEIVER_PORT: String(receiverPort),
      RECEIVER_OPS_PORT: String(ops.receiver),
      WRITER_OPS_HOST: "127.0.0.1",
      WRITER_OPS_PORT: String(ops.writer),
      QUERY_HOST: "127.0.0.1",
      QUERY_PORT: String(queryPort),
      QUERY_OPS_PORT: String(ops.query),
      AUTH_BOOTSTRAP_ADMIN_USERNAME: "admin",
      AUTH_BOOTSTRAP_ADMIN_PASSWORD: ADMIN_PASSWORD,
    };
    services.push(
      await startServiceProcess("services/receiver/src/main.ts", env, /receiver listening/),
      await startServiceProcess("services/writer/src/main.ts", env, /writer consuming/),
      await startServiceProcess("services/query/src/main.ts", env, /query service listening/),
    );
  });

  afterAll(async () => {
    for (const s of services) await s.stop().catch(() => {});
    await database?.close();
    await dbProxy?.close();
    await otlp?.close();
    await nats?.destroy();
    rmSync(tmp, { recursive: true, force: true });
  });

  async function provision(code: string, count: number): Promise<DeviceIdentity[]> {
    const out: DeviceIdentity[] = [];
    for (let number = 1; number <= count; number++) {
      const { apiKey } = await createDevice({ db: database.db, actor: "system:test" }, { code, number });
      out.push({ code, number, apiKey });
    }
    return out;
  }

  async function waitStored(prefix: string, batches: number): Promise<void> {
    await waitFor(
      `${batches} ${prefix} batches stored`,
      async () => [...(await storedBatches(database.db)).keys()].filter((k) => k.startsWith(prefix)).length === batches,
      30_000,
    );
  }

  async function adminToken(): Promise<string> {
    const res = await fetch(`http://127.0.0.1:${queryPort}/vigil.auth.v1.AuthService/Login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "admin", password: ADMIN_PASSWORD }),
    });
    return ((await res.json()) as { tokens: { accessToken: string } }).tokens.accessToken;
  }

  function listReadings(token: string, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(`http://127.0.0.1:${queryPort}/vigil.readings.v1.ReadingService/ListReadings`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}`, ...headers },
      body: JSON.stringify({ pageSize: 10 }),
    });
  }

  it("one trace runs from the device's batch through receiver, JetStream and writer into the COPY", async () => {
    const devices = await provision("TR", 2);
    const devicesFile = join(tmp, "devices.json");
    writeFileSync(devicesFile, JSON.stringify(devices), { mode: 0o600 });
    const simulator = await startServiceProcess(
      "simulator/src/main.ts",
      { ...env, SIMULATOR_TARGET: `127.0.0.1:${receiverPort}`, SIMULATOR_CONTROL_PORT: "0" },
      /simulator started/,
      ["--devices-file", devicesFile, "--batches", "5", "--interval-ms", "50", "--batch-size", "5"],
    );
    await waitStored("TR-", 10);
    await simulator.stop(); // exports its remaining spans

    const batchSpans = await spansEventually("ingest.batch", 10);
    const sends = await spansEventually("send vigil.readings", 10);
    const linked = (send: CollectedSpan) => (p: CollectedSpan) =>
      p.name === "process vigil.readings" &&
      p.links.some((l) => l.traceId === send.traceId && l.spanId === send.spanId);
    await waitFor("every send linked from a writer span", () => sends.every((send) => otlp.spans.some(linked(send))));
    const processes = otlp.spans.filter((s) => s.name === "process vigil.readings");
    for (const batch of batchSpans) {
      expect(batch).toMatchObject({ service: "vigil-simulator", kind: SPAN_KIND.producer, parentSpanId: "" });
      const receive = only(otlp.spans, (s) => s.name === "ingest.receive" && s.parentSpanId === batch.spanId);
      expect(receive).toMatchObject({
        service: "vigil-receiver",
        kind: SPAN_KIND.consumer,
        traceId: batch.traceId,
        attributes: { "vigil.batch.outcome": "acked", "vigil.batch.seq": batch.attributes["vigil.batch.seq"] },
      });
      const send = only(sends, (s) => s.parentSpanId === receive.spanId);
      expect(send).toMatchObject({
        service: "vigil-receiver",
        kind: SPAN_KIND.producer,
        traceId: batch.traceId,
        attributes: { "messaging.system": "nats", "messaging.operation.type": "send" },
      });
      expect(send.attributes["messaging.destination.name"]).toMatch(/^vigil\.readings\.TR\.[12]$/);
      // Every batch's producer span is linked from the consumer span that stored it.
      only(processes, linked(send));
    }
    // A writer's consumer span continues the first batch of its group, and the COPY sits under it.
    const continued = processes.filter((p) => sends.some((s) => s.spanId === p.parentSpanId));
    expect(continued.length).toBeGreaterThan(0);
    for (const p of continued) {
      const send = sends.find((s) => s.spanId === p.parentSpanId)!;
      expect(p).toMatchObject({ service: "vigil-writer", kind: SPAN_KIND.consumer, traceId: send.traceId });
      const inserts = otlp.spans.filter(
        (s) =>
          s.parentSpanId === p.spanId &&
          s.attributes["db.system.name"] === "postgresql" &&
          /^copy readings .* from stdin/i.test(String(s.attributes["db.query.text"])),
      );
      expect(inserts.length, "COPY spans under a process span").toBeGreaterThan(0);
      expect(inserts[0]!.traceId).toBe(send.traceId);
    }
  });

  it("traces every Connect call, continuing the caller's traceparent", async () => {
    const token = await adminToken();
    const traceId = randomBytes(16).toString("hex");
    const res = await listReadings(token, { traceparent: `00-${traceId}-${randomBytes(8).toString("hex")}-01` });
    expect(res.status).toBe(200);
    const call = await spanEventually(
      (s) => s.traceId === traceId && s.name === "vigil.readings.v1.ReadingService/ListReadings",
    );
    expect(call).toMatchObject({
      service: "vigil-query",
      kind: SPAN_KIND.server,
      attributes: { "rpc.system": "connect_rpc", "rpc.method": "ListReadings" },
    });
    await waitFor(
      "the query's SELECT under the call",
      () => otlp.spans.some((s) => s.parentSpanId === call.spanId && s.attributes["db.system.name"] === "postgresql"),
      10_000,
    );
  });

  it("names only spans and attributes that docs/telemetry.md documents", () => {
    const doc = readFileSync(join(repoRoot, "docs/telemetry.md"), "utf8");
    const names = documentedNames(doc, "Spans");
    const attributes = new Set(documentedNames(doc, "Span attributes"));
    const matches = (name: string) => names.some((n) => (n.includes("<") ? patternOf(n).test(name) : n === name));
    const seen = new Set(otlp.spans.map((s) => s.name));
    expect([...seen].filter((n) => !matches(n))).toEqual([]);
    for (const documented of ["ingest.batch", "ingest.receive", "send vigil.readings", "process vigil.readings"])
      expect(seen).toContain(documented);
    const seenAttributes = new Set(otlp.spans.flatMap((s) => Object.keys(s.attributes)));
    expect([...seenAttributes].filter((a) => !attributes.has(a))).toEqual([]);
  });

  it("metrics count exactly the readings a known load sent", async () => {
    const devices = await provision("MX", 3);
    const token = await adminToken();
    const before = await scrapeAll();
    const fleet = await runFleetToCompletion(devices, { target: `127.0.0.1:${receiverPort}`, maxBatches: 20 });
    await waitStored("MX-", 60);
    for (let i = 0; i < 3; i++) expect((await listReadings(token)).status).toBe(200);
    expect((await listReadings("not-a-token")).status).toBe(401);
    const readings = fleet.stats.readingsAcked;
    expect(fleet.stats.batchesAcked).toBe(60);
    // The writer counts a batch once its transaction commits, just before the gauges settle.
    await waitFor(
      "the writer's counters and the receiver's streams to settle",
      async () => {
        const now = await scrapeAll();
        return (
          counterDelta(before, now, "vigil_writer_readings_total") === readings &&
          now.get("vigil_receiver_streams") === 0
        );
      },
      10_000,
    );
    const after = await scrapeAll();
    const delta = (name: string) => counterDelta(before, after, name);
    expect(delta('vigil_receiver_batches_total{outcome="acked"}')).toBe(60);
    expect(delta('vigil_receiver_readings_total{outcome="acked"}')).toBe(readings);
    expect(delta('vigil_receiver_readings_total{outcome="rejected"}')).toBe(0);
    expect(delta("vigil_receiver_streams_opened_total")).toBe(3);
    expect(delta("vigil_receiver_append_duration_seconds_count")).toBe(60);
    expect(delta('vigil_writer_batches_total{outcome="stored"}')).toBe(60);
    expect(delta("vigil_writer_readings_total")).toBe(readings);
    expect(delta("vigil_writer_rows_inserted_total")).toBe(readings);
    expect(delta("vigil_ingest_to_stored_seconds_count")).toBe(60);
    const listed = 'method="vigil.readings.v1.ReadingService/ListReadings"';
    expect(delta(`vigil_query_requests_total{${listed},code="ok"}`)).toBe(3);
    expect(delta(`vigil_query_requests_total{${listed},code="unauthenticated"}`)).toBe(1);
    expect(after.get("vigil_writer_consumer_pending")).toBe(0);
    expect(after.get("vigil_receiver_streams")).toBe(0);
    expect(after.get("process_resident_memory_bytes")).toBeGreaterThan(0);
  });

  it("exposes every metric docs/telemetry.md documents, and documents every vigil_ metric", async () => {
    const documented = documentedNames(readFileSync(join(repoRoot, "docs/telemetry.md"), "utf8"), "Metrics");
    const exposed = new Set<string>();
    for (const service of ["receiver", "writer", "query"] as const) {
      const text = await (await fetch(metricsUrl(service))).text();
      for (const m of text.matchAll(/^# TYPE (\S+)/gm)) exposed.add(m[1]!);
    }
    const lifecycleMetrics = documented.filter((m) => m.startsWith("vigil_lifecycle_"));
    expect(lifecycleMetrics.length).toBeGreaterThan(5); // checked in the lifecycle service's own test
    // The lifecycle service's and the alerter's are checked in their own tests (lifecycle, alerts-detection).
    const elsewhere = (m: string) => m.startsWith("vigil_lifecycle_") || m.startsWith("vigil_alert");
    expect(documented.filter((m) => !elsewhere(m) && !exposed.has(m))).toEqual([]);
    expect([...exposed].filter((m) => m.startsWith("vigil_") && !documented.includes(m))).toEqual([]);
  });

  it("readiness is false while NATS or the database is unreachable, and true again after", async () => {
    const readyz = async (service: keyof typeof ops) =>
      (await fetch(`http://127.0.0.1:${ops[service]}/readyz`).catch(() => undefined))?.status;
    const healthz = async (service: keyof typeof ops) =>
      (await fetch(`http://127.0.0.1:${ops[service]}/healthz`)).status;
    const ingestHealth = () => grpcHealth(receiverPort, "vigil.ingest.v1.IngestService");
    const all = ["receiver", "writer", "query"] as const;
    const expectReadiness = async (status: number, grpc: string, why: string) => {
      for (const service of all)
        await waitFor(`${service} /readyz ${status} ${why}`, async () => (await readyz(service)) === status, 20_000);
      await waitFor(`IngestService ${grpc} ${why}`, async () => (await ingestHealth()) === grpc, 20_000);
      for (const service of all) expect(await healthz(service)).toBe(200);
    };

    await expectReadiness(200, "SERVING", "at first");
    await nats.stop();
    await expectReadiness(503, "NOT_SERVING", "with NATS stopped");
    expect(await grpcHealth(receiverPort, "")).toBe("SERVING"); // alive: not restarted for an outage
    await nats.start();
    await expectReadiness(200, "SERVING", "with NATS back");

    dbProxy.cut();
    await expectReadiness(503, "NOT_SERVING", "with the database unreachable");
    dbProxy.restore();
    await expectReadiness(200, "SERVING", "with the database back");
    for (const s of services) expect(s.child.exitCode, "a service exited during the outages").toBeNull();
  });

  async function spansEventually(name: string, count: number): Promise<CollectedSpan[]> {
    const named = () => otlp.spans.filter((s) => s.name === name);
    await waitFor(`${count} ${name} spans`, () => named().length >= count, 15_000);
    return named();
  }

  async function spanEventually(match: (s: CollectedSpan) => boolean): Promise<CollectedSpan> {
    await waitFor("a span", () => otlp.spans.some(match), 15_000);
    return otlp.spans.find(match)!;
  }

  async function scrapeAll(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const service of ["receiver", "writer", "query"] as const) {
      const text = await (await fetch(metricsUrl(service))).text();
      for (const line of text.split("\n")) {
        if (line.startsWith("#") || line === "") continue;
        const at = line.lastIndexOf(" ");
        out.set(line.slice(0, at), Number(line.slice(at + 1)));
      }
    }
    return out;
  }
});

function counterDelta(before: Map<string, number>, after: Map<string, number>, series: string): number {
  return (after.get(series) ?? 0) - (before.get(series) ?? 0);
}

/** The single span matching, failing clearly when there are none or several. */
function only(spans: CollectedSpan[], match: (s: CollectedSpan) => boolean): CollectedSpan {
  const found = spans.filter(match);
  expect(found.length, "matching spans").toBe(1);
  return found[0]!;
}

/** The backticked names in the first column of the table under a "## <heading>" in a Markdown document. */
function documentedNames(doc: string, heading: string): string[] {
  const section = doc.split(/^## /m).find((s) => s.startsWith(`${heading}\n`));
  if (!section) throw new Error(`docs/telemetry.md has no "## ${heading}" section`);
  return [...section.matchAll(/^\| `([^`]+)`/gm)].map((m) => m[1]!);
}

/** A documented name with <placeholders> as a regular expression. */
function patternOf(name: string): RegExp {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/<[^>]+>/g, "[^ /]+");
  return new RegExp(`^${escaped}$`);
}

async function grpcHealth(port: number, service: string): Promise<string | undefined> {
  // A gRPC client with the generated descriptors: the receiver serves no reflection by default.
  const client = createClient(health.Health, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }));
  try {
    const { status } = await client.check({ service }, { timeoutMs: 5_000 });
    const names = Object.entries(health.HealthCheckResponse_ServingStatus);
    return names.find(([, value]) => value === status)?.[0];
  } catch {
    return undefined;
  }
}
