/**
 * The devices of `npm run bench:peers` when they report to Telegraf instead
 * of Vigil: each POSTs its batches as InfluxDB line protocol to Telegraf's
 * InfluxDB v2 listener, one request at a time, and counts a batch acked when
 * the answer is 204. A batch that is refused (429: Telegraf's undelivered
 * bound; 5xx; connection refused while Telegraf is down) is sent again after
 * a short pause, as a device would; an acked one never is. Same batch shape
 * as the Vigil simulator's robots: 5 sensors × `--batch-size` samples, 1 ms
 * apart, one `seq` per batch.
 *
 * Run as its own process (its CPU is measured apart): prints one JSON line
 * `{"summary": …}` at the end and writes every acked batch, per device, to
 * `--acked-file` as {"CODE-N": [[seq, readings], …]}.
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { DEVICE_KINDS } from "@vigil/simulator";
import { percentile } from "./connect-json.ts";

const { values: flags } = parseArgs({
  options: {
    url: { type: "string" },
    code: { type: "string", default: "TG" },
    devices: { type: "string", default: "50" },
    "batch-size": { type: "string", default: "100" },
    "duration-s": { type: "string", default: "20" },
    /** "fast" (next batch as soon as the last is acked) or ms between a device's batches. */
    pace: { type: "string", default: "fast" },
    "acked-file": { type: "string" },
  },
});
if (!flags.url || !flags["acked-file"]) throw new Error("--url and --acked-file are required");
const url = `${flags.url}/api/v2/write?org=vigil&bucket=bench&precision=ms`;
const devices = Number(flags.devices);
const batchSize = Number(flags["batch-size"]);
const durationMs = Number(flags["duration-s"]) * 1000;
const paceMs = flags.pace === "fast" ? 0 : Number(flags.pace);
const sensors = DEVICE_KINDS.surgical_robot;

const acked: Record<string, Array<[number, number]>> = {};
const latencies: number[] = [];
const recent: number[] = [];
let refused = 0;
let failed = 0;
const started = performance.now();
const deadline = started + durationMs;
const base = Date.now();

// The client must cost little CPU beside Telegraf on the same cores: each series' line prefix and
// a cycle of its values are formatted once, so a batch is string concatenation only.
const VALUES = 64;
const formatted = sensors.map((spec, s) =>
  Array.from({ length: VALUES }, (_, i) =>
    (spec.nominal + Math.sin((i / VALUES) * 2 * Math.PI + s) * (spec.max - spec.min) * 0.05).toFixed(spec.decimals),
  ),
);

function batch(device: number, seq: number): string {
  let body = "";
  for (let s = 0; s < sensors.length; s++) {
    const prefix = `reading,device=${flags.code}-${device},sensor=${sensors[s]!.name} value=`;
    const tail = `,seq=${seq}i `;
    const values = formatted[s]!;
    const t0 = base + (seq - 1) * batchSize;
    for (let k = 0; k < batchSize; k++) body += `${prefix}${values[(seq + k + device) % VALUES]}${tail}${t0 + k}\n`;
  }
  return body;
}

async function device(n: number): Promise<void> {
  const name = `${flags.code}-${n}`;
  acked[name] = [];
  // Start the devices spread over one interval, as a fleet does.
  if (paceMs > 0) await sleep(((n - 1) * paceMs) / devices);
  const first = performance.now();
  for (let seq = 1; performance.now() < deadline; seq++) {
    const body = batch(n, seq);
    for (;;) {
      const t = performance.now();
      let status = 0;
      try {
        const res = await fetch(url, { method: "POST", body, headers: { "content-type": "text/plain" } });
        status = res.status;
        await res.arrayBuffer();
      } catch {
        failed++; // connection refused or reset: Telegraf is down
      }
      if (status === 204) {
        const ms = performance.now() - t;
        latencies.push(ms);
        if (performance.now() > started + durationMs / 2) recent.push(ms);
        acked[name].push([seq, sensors.length * batchSize]);
        break;
      }
      if (status !== 0) refused++;
      if (performance.now() >= deadline) return;
      await sleep(100);
    }
    if (paceMs > 0) {
      const next = first + seq * paceMs;
      const wait = next - performance.now();
      if (wait > 0) await sleep(wait);
    }
  }
}

function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}

await Promise.all(Array.from({ length: devices }, (_, i) => device(i + 1)));
writeFileSync(flags["acked-file"], JSON.stringify(acked));
const batches = Object.values(acked).reduce((n, b) => n + b.length, 0);
const round = (x: number) => Math.round(x * 10) / 10;
process.stdout.write(
  `${JSON.stringify({
    summary: {
      acked: batches,
      readingsAcked: batches * sensors.length * batchSize,
      refused,
      failed,
      ackLatencyMs: { p50: round(percentile(latencies, 50)), p99: round(percentile(latencies, 99)) },
      recentAckLatencyMs: { p50: round(percentile(recent, 50)), p99: round(percentile(recent, 99)) },
    },
  })}\n`,
);
