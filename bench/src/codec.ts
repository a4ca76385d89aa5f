/**
 * `npm run bench:codec`: what decoding a ReadingBatch costs per byte, from
 * 1 KB to 4 MiB, in the packed encoding devices use, the unpacked one
 * proto3 parsers must also accept, and the adversarial "one packed chunk
 * per reading" (legal protobuf, once quadratic). No servers: it runs after
 * `npm ci` alone. Times are this process's CPU time (user + system), not
 * wall time: on a shared machine wall time measures the neighbours too. A
 * table goes to stderr; the last line of stdout is one JSON object.
 */
import { decodeReadingBatch, type SampleEncoding, sampleBatchBytes } from "@vigil/proto";
import { scriptArgs } from "@vigil/testkit";

const USAGE = `usage: npm run bench:codec -- [--budget-ms N]
  --budget-ms N   time spent measuring each size and encoding (default 300)\n`;
const { values: flags, fail } = scriptArgs("bench:codec", USAGE, {
  "budget-ms": { type: "string", default: "300" },
});
const budgetMs = Number(flags["budget-ms"]);
if (!(budgetMs > 0)) fail("--budget-ms must be a positive number");

const SIZES = [1024, 4096, 16 * 1024, 64 * 1024, 256 * 1024, 1024 * 1024, 4 * 1024 * 1024];
const ENCODINGS: SampleEncoding[] = ["packed", "unpacked", "chunked"];

/** CPU milliseconds `fn` takes, `repeat` times over, per call. */
function cpuMs(fn: () => void, repeat = 1): number {
  const started = process.cpuUsage();
  for (let i = 0; i < repeat; i++) fn();
  const used = process.cpuUsage(started);
  return (used.user + used.system) / 1000 / repeat;
}

/** Median ns per byte of repeated decodes within the budget (at least 5 samples of at least 1 MiB decoded). */
function nsPerByte(bytes: Uint8Array): { nsPerByte: number; runs: number } {
  decodeReadingBatch(bytes); // warm up
  const repeat = Math.max(1, Math.ceil((1024 * 1024) / bytes.length));
  const times: number[] = [];
  const until = performance.now() + budgetMs;
  while (times.length < 5 || performance.now() < until) {
    times.push(cpuMs(() => decodeReadingBatch(bytes), repeat));
  }
  times.sort((a, b) => a - b);
  return { nsPerByte: (times[Math.floor(times.length / 2)]! * 1e6) / bytes.length, runs: times.length };
}

const table: Record<SampleEncoding, Record<string, number>> = { packed: {}, unpacked: {}, chunked: {} };
process.stderr.write(`${"size".padStart(9)} ${ENCODINGS.map((e) => `${e} ns/B`.padStart(16)).join("")}\n`);
for (const size of SIZES) {
  const cells: string[] = [];
  for (const encoding of ENCODINGS) {
    // Many sensors in the packed and unpacked messages, as devices send them; one long series in the chunked one.
    const bytes = sampleBatchBytes({ bytes: size, encoding, series: encoding === "chunked" ? 1 : 8 });
    const { nsPerByte: ns } = nsPerByte(bytes);
    table[encoding][label(size)] = round(ns);
    cells.push(ns.toFixed(2).padStart(16));
  }
  process.stderr.write(`${label(size).padStart(9)} ${cells.join("")}\n`);
}

// The adversarial case on its own: a cold 4 MiB decode, as a receiver meets it, then the slowest of five.
const adversarial = sampleBatchBytes({ bytes: 4 * 1024 * 1024, encoding: "chunked" });
const runs: number[] = [];
for (let i = 0; i < 6; i++) runs.push(cpuMs(() => decodeReadingBatch(adversarial)));
const adversarialMs = { first: round(runs[0]!), slowest: round(Math.max(...runs.slice(1))) };
process.stderr.write(
  `adversarial 4 MiB (${adversarial.length} bytes, one packed chunk per reading): first ${adversarialMs.first} ms CPU, slowest of the next five ${adversarialMs.slowest} ms\n`,
);

const flatness = Object.fromEntries(
  ENCODINGS.map((e) => {
    const values = Object.values(table[e]);
    // Largest over smallest ns/byte from 16 KiB up (below that, fixed per-call costs dominate).
    const fromMid = values.slice(2);
    return [e, round(Math.max(...fromMid) / Math.min(...fromMid))];
  }),
);
process.stdout.write(
  `${JSON.stringify({ decode_ns_per_byte: table, spread_16k_to_4m: flatness, adversarial_4mib_ms: adversarialMs })}\n`,
);

function label(size: number): string {
  return size >= 1024 * 1024 ? `${size / 1024 / 1024}MiB` : `${size / 1024}KiB`;
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
