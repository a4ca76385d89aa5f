/**
 * `npm run bench:alerts`: the alerting path under load, in one run so every
 * ratio compares figures measured on the same machine at the same time.
 *
 * 1. Ceiling: the fleet sends as fast as acks allow (receiver and writer
 *    processes, private PostgreSQL and nats-server); readings acked per second.
 * 2. Without the alerter: the fleet paced at half of that, for the duration.
 * 3. With the alerter (its own process) and 1,000 rules (an anomaly rule per
 *    device and sensor with a webhook channel, the rest thresholds that stay
 *    quiet on clean data), for the duration, while the simulator injects
 *    spikes and steps of at least 5 sigma (ground truth: the readings they
 *    changed). Webhooks go to a receiver in this process that verifies each
 *    signature with the standardwebhooks library.
 * 4. Clean data offline: the anomaly detector over 100 device-hours of the
 *    simulated sensors, for false alerts per 100 device-hours (the live run
 *    is too short to say much about a rate that low).
 *
 * Reported: detection latency from the faulty reading's time to the webhook
 * arriving (p50, p99), recall on the injected faults, false alerts (live and
 * offline), acked readings per second with the alerter against without, and
 * the alerter's heap per 1,000 detector states. The last line of stdout is
 * one JSON object.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { anomalyDetector } from "@vigil/alerter";
import { createChannel, createRule, type RuleSpec } from "@vigil/alerts";
import { migrateToLatest, openDatabase } from "@vigil/db";
import { createDevice } from "@vigil/devices";
import { DEVICE_KINDS, type DeviceIdentity, Fleet, SensorWalk } from "@vigil/simulator";
import {
  createTestDatabase,
  freePort,
  type ServiceProcess,
  scriptArgs,
  startNats,
  startPostgres,
  startServiceProcess,
  waitFor,
} from "@vigil/testkit";
import { Webhook } from "standardwebhooks";
import { percentile } from "./connect-json.ts";

const USAGE = `usage: npm run bench:alerts -- [options]
  --devices N      simulated surgical robots, 5 sensors each (default 40)
  --rules N        alert rules (default 1000): an anomaly rule per device and sensor, the rest thresholds
  --duration-s N   length of the paced runs without and with the alerter (default 60)
  --faults N       spikes and steps injected during the run with the alerter (default 100)
  --ceiling-s N    length of the as-fast-as-possible run that finds the ingest ceiling (default 15)\n`;
const { values: flags, positiveInt: positive } = scriptArgs("bench:alerts", USAGE, {
  devices: { type: "string", default: "40" },
  rules: { type: "string", default: "1000" },
  "duration-s": { type: "string", default: "60" },
  faults: { type: "string", default: "100" },
  "ceiling-s": { type: "string", default: "15" },
});
const devicesN = positive(flags.devices, "--devices");
const rulesN = positive(flags.rules, "--rules");
const durationS = positive(flags["duration-s"], "--duration-s");
const faultsN = positive(flags.faults, "--faults");
const ceilingS = positive(flags["ceiling-s"], "--ceiling-s");
const SENSORS = DEVICE_KINDS.surgical_robot;
const PACED_INTERVAL_MS = 100;
const log = (line: string) => process.stderr.write(`${line}\n`);

const pg = await startPostgres({ fast: true });
const nats = await startNats();
const running: ServiceProcess[] = [];
const stopAll = async () => {
  for (const p of running.reverse()) await p.stop().catch(() => {});
  await nats.destroy();
  await pg.stop();
};
process.once("SIGINT", () => void stopAll().then(() => process.exit(130)));
process.once("SIGTERM", () => void stopAll().then(() => process.exit(143)));

try {
  const databaseUrl = await createTestDatabase(pg.url, "bench_alerts");
  const database = await openDatabase(databaseUrl);
  await migrateToLatest(database.db);
  const identities: DeviceIdentity[] = [];
  for (let n = 1; n <= devicesN; n++) {
    const { apiKey } = await createDevice(
      { db: database.db, actor: "system:bench" },
      { code: "ROB", number: n, kind: "surgical_robot" },
    );
    identities.push({ code: "ROB", number: n, apiKey });
  }
  const env = {
    DATABASE_URL: databaseUrl,
    NATS_URL: nats.url,
    // info: the processes say when they are ready.
    LOG_LEVEL: "info",
    // A small backlog bound, as the e2e bench: the ceiling is the writers' pace, not JetStream's.
    NATS_STREAM_MAX_BYTES: String(16 * 1024 * 1024),
    RECEIVER_RATE_LIMIT_PER_S: "100000000",
    RECEIVER_RATE_LIMIT_BURST: "1000000000",
  };
  const receiverPort = await freePort();
  running.push(
    await startServiceProcess(
      "services/receiver/src/main.ts",
      { ...env, RECEIVER_PORT: String(receiverPort), RECEIVER_HOST: "127.0.0.1", RECEIVER_OPS_PORT: "0" },
      /receiver listening/,
    ),
  );
  running.push(
    await startServiceProcess("services/writer/src/main.ts", { ...env, WRITER_OPS_PORT: "0" }, /writer consuming/),
  );
  const target = `127.0.0.1:${receiverPort}`;

  // 1. The ceiling.
  const fast = new Fleet(identities, {
    target,
    devicesPerConnection: 20,
    intervalMs: 100,
    samplesPerBatch: 100,
    maxBufferedBatches: 1_000,
    clock: "fast",
  });
  void fast.start();
  await new Promise((r) => setTimeout(r, 3_000));
  const ceiling = await ackedRate(fast, ceilingS);
  await fast.stop();
  log(`ceiling: ${Math.round(ceiling)} readings/s acked`);
  // Let the writers store the backlog the fast run left.
  await new Promise((r) => setTimeout(r, 5_000));

  // The paced fleet: half the ceiling, one batch per device every 100 ms (a faulty reading
  // waits at most that long in its device before it is sent: part of the detection latency).
  const perDevice = ceiling / 2 / devicesN;
  const intervalMs = PACED_INTERVAL_MS;
  const samples = clamp(Math.round((perDevice * intervalMs) / 1000 / SENSORS.length), 1, 10_000);
  const fleet = new Fleet(identities, {
    target,
    devicesPerConnection: 20,
    intervalMs,
    samplesPerBatch: samples,
    maxBufferedBatches: 10_000,
    clock: "realtime",
  });
  void fleet.start();
  await waitFor("the paced fleet", () => fleet.summary().connected === devicesN, 30_000);
  await new Promise((r) => setTimeout(r, 3_000));
  const target_ = (devicesN * samples * SENSORS.length * 1000) / intervalMs;
  log(`paced: ${samples} samples per sensor every ${intervalMs} ms per device, ${Math.round(target_)} readings/s`);

  // 2. Without the alerter.
  const without = await ackedRate(fleet, durationS);
  log(`without the alerter: ${Math.round(without)} readings/s acked`);

  // 3. With the alerter and the rules.
  const hook = await webhookReceiver();
  const { channel, secret } = await createChannel(
    { db: database.db, actor: "system:bench" },
    { name: "bench", kind: "webhook", url: hook.url, ratePerMinute: 10_000 },
  );
  hook.secret = secret;
  const ctx = { db: database.db, actor: "system:bench" };
  let rules = 0;
  for (let n = 1; n <= devicesN && rules < rulesN; n++) {
    for (const s of SENSORS) {
      if (rules >= rulesN) break;
      await createRule(
        ctx,
        rule(
          `anomaly ROB-${n} ${s.name}`,
          n,
          s.name,
          { kind: "anomaly", sensitivity: 6, warmupSamples: 100, halfLifeSamples: 5 },
          [channel.id],
        ),
      );
      rules++;
    }
  }
  const anomalyRules = rules;
  for (let i = 0; rules < rulesN; i++, rules++) {
    const s = SENSORS[i % SENSORS.length]!;
    const n = (Math.floor(i / SENSORS.length) % devicesN) + 1;
    // Past the sensor's physical range: never true on clean data, evaluated on every reading all the same.
    await createRule(
      ctx,
      rule(
        `limit ${i}`,
        n,
        s.name,
        { kind: "threshold", comparison: "above", value: s.max + 1 + i, forMs: 0, hysteresis: 0 },
        [],
      ),
    );
  }
  const opsPort = await freePort();
  const alerter = await startServiceProcess(
    "services/alerter/src/main.ts",
    {
      ...env,
      ALERTER_OPS_PORT: String(opsPort),
      ALERTER_OPS_HOST: "127.0.0.1",
      ALERTER_WEBHOOK_ALLOWED_CIDRS: "127.0.0.1/32",
      ALERTER_PARTITIONS: "8",
      ALERTER_LOG_ALERTS: "false",
    },
    /alerter evaluating/,
  );
  running.push(alerter);
  await new Promise((r) => setTimeout(r, 8_000));
  const before = await scrape(opsPort);
  const lags: number[] = [];
  const faults: Array<ReturnType<Fleet["injectFault"]>> = [];
  let lastLagAt = 0;
  const withAlerter = await ackedRate(fleet, durationS, async (elapsedS) => {
    if (elapsedS - lastLagAt >= 1) {
      lastLagAt = elapsedS;
      lags.push((await scrape(opsPort)).lag);
    }
    // Faults spread over the run, leaving its last 5 s for the last ones to be notified.
    const due = Math.min(faultsN, Math.floor((elapsedS / Math.max(1, durationS - 5)) * faultsN));
    while (faults.length < due) {
      const i = faults.length;
      const n = ((i * 7) % devicesN) + 1;
      const s = SENSORS[(i * 3) % SENSORS.length]!;
      const step = i % 2 === 1;
      faults.push(
        fleet.injectFault({
          code: "ROB",
          number: n,
          sensor: s.name,
          kind: step ? "step" : "spike",
          magnitude: (i % 4 < 2 ? 1 : -1) * (5 + (i % 3)),
          durationMs: step ? 3_000 : 0,
        }),
      );
    }
  });
  await new Promise((r) => setTimeout(r, 5_000));
  const after = await scrape(opsPort);
  log(`with the alerter and ${rulesN} rules: ${Math.round(withAlerter)} readings/s acked`);

  // Ground truth against what arrived.
  const fired = hook.received.filter((w) => w.type === "alert.fired");
  const matched = new Set<number>();
  const latencies: number[] = [];
  let falseAlerts = 0;
  for (const w of fired) {
    const f = faults.find(
      (x) =>
        x.firstReadingMs !== undefined &&
        `ROB-${x.device.number}` === w.device &&
        x.sensor === w.sensor &&
        w.startMs >= x.firstReadingMs &&
        w.startMs <= (x.lastReadingMs ?? x.firstReadingMs) + 1_000,
    );
    if (!f) {
      falseAlerts++;
      continue;
    }
    if (w.startMs === f.firstReadingMs && !matched.has(f.id)) {
      matched.add(f.id);
      latencies.push(w.arrivedAtMs - f.firstReadingMs!);
    }
  }
  const sent = faults.filter((f) => f.firstReadingMs !== undefined);
  if (process.env.BENCH_DEBUG) log(`latencies: ${JSON.stringify([...latencies].sort((a, b) => a - b))}`);
  const states = after.series;
  // 4. Clean data, offline, with the alerter's own detector.
  const offline = cleanFalseAlerts(100);
  const result = {
    devices: devicesN,
    rules: rulesN,
    anomaly_rules: anomalyRules,
    duration_s: durationS,
    ceiling_readings_per_s: Math.round(ceiling),
    paced_readings_per_s: Math.round(target_),
    paced_interval_ms: intervalMs,
    paced_samples_per_batch: samples,
    without_alerter_readings_per_s: Math.round(without),
    with_alerter_readings_per_s: Math.round(withAlerter),
    ingest_ratio: round(withAlerter / without, 3),
    faults_injected: sent.length,
    faults_detected: matched.size,
    recall: round(matched.size / Math.max(1, sent.length), 3),
    detection_latency_ms_p50: round(percentile(latencies, 50), 1),
    detection_latency_ms_p90: round(percentile(latencies, 90), 1),
    detection_latency_ms_p99: round(percentile(latencies, 99), 1),
    detection_latency_ms_max: round(Math.max(0, ...latencies), 1),
    webhooks_verified: hook.received.every((w) => w.verified),
    false_alerts_live: falseAlerts,
    live_device_hours: round((devicesN * durationS) / 3600, 2),
    false_alerts_per_100_device_hours_offline: offline.perHundredDeviceHours,
    offline_device_hours: offline.deviceHours,
    alerter_series_states: states,
    state_heap_bytes_per_1000_states: stateBytesPerThousand(),
    alerter_rss_mb: round(after.rss / 1024 / 1024, 1),
    alerter_cpu_share: round((after.cpu - before.cpu) / (durationS + 5), 2),
    alerter_lag_s_max: round(Math.max(0, ...lags), 2),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  await fleet.stop();
  await hook.close();
  await database.close();
} finally {
  await stopAll();
}

function rule(
  name: string,
  n: number,
  sensor: string,
  condition: RuleSpec["condition"],
  channelIds: number[],
): RuleSpec {
  return {
    name,
    description: "",
    severity: "warning",
    devices: { codes: ["ROB"], numbers: [n] },
    sensors: [sensor],
    condition,
    channelIds,
    enabled: true,
  };
}

/** Readings acked per second by the fleet over `seconds`, calling `tick` every 100 ms. */
async function ackedRate(
  f: Fleet,
  seconds: number,
  tick?: (elapsedS: number) => Promise<void> | void,
): Promise<number> {
  const start = performance.now();
  const acked0 = f.stats.readingsAcked;
  while (performance.now() - start < seconds * 1000) {
    await tick?.((performance.now() - start) / 1000);
    await new Promise((r) => setTimeout(r, 100));
  }
  return (f.stats.readingsAcked - acked0) / ((performance.now() - start) / 1000);
}

/** The alerter's heap, RSS and detector states from its /metrics. */
async function scrape(port: number): Promise<{ rss: number; series: number; lag: number; cpu: number }> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, "m").exec(text)?.[1] ?? 0);
  return {
    rss: value("process_resident_memory_bytes"),
    lag: value("vigil_alerter_evaluation_lag_seconds"),
    cpu: value("process_cpu_seconds_total"),
    series: value("vigil_alerter_series"),
  };
}

/** A webhook receiver verifying each signature with the standardwebhooks library. */
async function webhookReceiver() {
  const received: Array<{
    type: string;
    device: string;
    sensor: string;
    startMs: number;
    arrivedAtMs: number;
    verified: boolean;
  }> = [];
  const state = {
    secret: "",
    received,
    url: "",
    close: () => Promise.resolve(),
  };
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => {
      body += c.toString("utf8");
    });
    req.on("end", () => {
      const arrivedAtMs = Date.now();
      let verified = false;
      try {
        new Webhook(state.secret).verify(body, req.headers as Record<string, string>);
        verified = true;
      } catch {
        verified = false;
      }
      const p = JSON.parse(body) as {
        type: string;
        data: { alert?: { device: { code: string; number: number } | null; sensor: string; startTime: string } };
      };
      const a = p.data.alert;
      received.push({
        type: p.type,
        device: a?.device ? `${a.device.code}-${a.device.number}` : "",
        sensor: a?.sensor ?? "",
        startMs: a ? Date.parse(a.startTime) : 0,
        arrivedAtMs,
        verified,
      });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  state.close = () =>
    new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    });
  return state;
}

/**
 * The anomaly detector with the rules' settings over `deviceHours` hours of
 * clean readings of a simulated robot (5 sensors at 10 readings a second),
 * as the alerter runs it: false alerts per 100 device-hours.
 */
function cleanFalseAlerts(deviceHours: number): { perHundredDeviceHours: number; deviceHours: number } {
  const condition = { kind: "anomaly" as const, sensitivity: 6, warmupSamples: 100, halfLifeSamples: 5 };
  const perSensor = deviceHours * 3_600 * 10;
  const chunk = 100_000;
  let fires = 0;
  SENSORS.forEach((spec, k) => {
    const walk = new SensorWalk([spec], 42 + k);
    const state = anomalyDetector.create(condition, 0);
    const values = new Float64Array(chunk);
    for (let done = 0; done < perSensor; done += chunk) {
      walk.fill(0, values);
      for (let i = 0; i < chunk; i++) {
        const v = anomalyDetector.observe(condition, state, (done + i) * 100, values[i]!, {
          ruleName: "",
          device: "",
          sensor: "",
        });
        if (v && "fire" in v) fires++;
      }
    }
  });
  return { perHundredDeviceHours: round((fires / deviceHours) * 100, 3), deviceHours };
}

/**
 * Heap held per 1,000 detector states, measured as the partition worker
 * holds them (a Map from "rule@version|device|sensor" to the newest reading
 * time and the detector's state), after every state has seen readings.
 * Needs node --expose-gc (the npm script passes it).
 */
function stateBytesPerThousand(): number | null {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return null;
  const condition = { kind: "anomaly" as const, sensitivity: 6, warmupSamples: 100, halfLifeSamples: 5 };
  const n = 100_000;
  gc();
  const before = process.memoryUsage().heapUsed;
  const states = new Map<string, { last: number; state: unknown }>();
  for (let i = 0; i < n; i++) {
    const state = anomalyDetector.create(condition, 0);
    for (let t = 1; t <= 3; t++) {
      anomalyDetector.observe(condition, state, t, 40 + Math.random(), { ruleName: "", device: "", sensor: "" });
    }
    states.set(`${1_000 + (i % 1_000)}@1|${i}|motor.temperature_c`, { last: 3, state });
  }
  gc();
  const held = process.memoryUsage().heapUsed - before;
  return states.size === n ? Math.round((held / n) * 1_000) : null;
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

function round(v: number, digits: number): number {
  return Number.isFinite(v) ? Math.round(v * 10 ** digits) / 10 ** digits : 0;
}
