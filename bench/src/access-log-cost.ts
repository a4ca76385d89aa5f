/**
 * `npm run bench:access-log -- [--workers 16] [--seconds 5] [--rounds 3]`:
 * what the access log costs a read of readings, on a private PostgreSQL.
 * `--workers` clients each run a page read (100 readings of one device, as
 * ListReadings does) in a loop, three ways, phase by phase in the same run
 * (the order rotating each round, so a shared machine's load falls on all
 * alike):
 *
 * - `read`: the page only (no access log);
 * - `read + batched entry`: then the audit entry through AuditBatcher, the
 *   read answered once the entry is committed (what the query service does);
 * - `read + own INSERT`: then one recordAudit per read (each its own append
 *   to the hash chain: the design the batcher replaces).
 *
 * Reports reads per second and latency percentiles per way and round, and
 * each way's throughput over `read`'s.
 */
import { parseArgs } from "node:util";
import { AuditBatcher, migrateToLatest, openDatabase, recordAudit, sql, verifyAuditChain } from "@vigil/db";
import { createTestDatabase, ensureTools, startPostgres } from "@vigil/testkit";

const { values: flags } = parseArgs({
  options: {
    workers: { type: "string", default: "16" },
    seconds: { type: "string", default: "5" },
    rounds: { type: "string", default: "3" },
  },
});
const workers = Number(flags.workers);
const phaseMs = Number(flags.seconds) * 1000;
const rounds = Number(flags.rounds);
const DEVICES = 20;

const log = (msg: string) => process.stderr.write(`access-log-cost: ${msg}\n`);
ensureTools(["postgresql"]);
const server = await startPostgres();
try {
  const database = await openDatabase(await createTestDatabase(server.url, "access"), { maxConnections: workers + 2 });
  const { db } = database;
  await migrateToLatest(db);
  await sql`INSERT INTO devices (code, number) SELECT 'AL', n FROM generate_series(1, ${DEVICES}) AS n`.execute(db);
  await sql`INSERT INTO sensors (name) VALUES ('temp')`.execute(db);
  await sql`
    INSERT INTO readings (time, value, seq, received_at, device_id, sensor_id, source_id)
    SELECT now() - make_interval(secs => i), i % 100, i, now(), 1 + i % ${DEVICES}, 1, NULL
    FROM generate_series(1, 200000) AS i`.execute(db);
  await sql`ANALYZE readings`.execute(db);
  const batcher = new AuditBatcher(db, { maxPending: 10_000, maxBatch: 500 });

  const page = async (device: number) => {
    const { rows } = await sql<{ time: Date }>`
      SELECT r.time, r.value, r.seq, r.received_at, r.source_id, d.code, d.number, s.name
      FROM readings r JOIN devices d ON d.id = r.device_id JOIN sensors s ON s.id = r.sensor_id
      WHERE r.device_id = ${device} AND r.deleted_at IS NULL AND r.time >= now() - interval '1 hour'
      ORDER BY r.time, r.device_id, r.sensor_id LIMIT 100`.execute(db);
    return rows.length;
  };
  const entry = (worker: number, device: number, rows: number) => ({
    actor: `user:bench${worker}`,
    action: "readings.list",
    target: `devices:AL-${device}`,
    details: {
      deviceCode: "AL",
      deviceNumber: device,
      start: new Date().toISOString(),
      devicesReturned: [`AL-${device}`],
    },
    rowsAffected: rows,
  });
  const ways: Record<string, (worker: number, device: number) => Promise<void>> = {
    read: async (_w, device) => {
      await page(device);
    },
    "read + batched entry": async (w, device) => {
      await batcher.record(entry(w, device, await page(device)));
    },
    "read + own INSERT": async (w, device) => {
      await recordAudit(db, entry(w, device, await page(device)));
    },
  };

  const results = new Map<string, Array<{ perS: number; p50: number; p95: number; p99: number }>>();
  for (let round = 0; round < rounds; round++) {
    const names = Object.keys(ways);
    const order = names.map((_, i) => names[(i + round) % names.length]!);
    for (const name of order) {
      const latencies: number[] = [];
      const until = performance.now() + phaseMs;
      await Promise.all(
        Array.from({ length: workers }, async (_, w) => {
          for (let i = 0; performance.now() < until; i++) {
            const t0 = performance.now();
            await ways[name]!(w, 1 + ((w + i) % DEVICES));
            latencies.push(performance.now() - t0);
          }
        }),
      );
      latencies.sort((a, b) => a - b);
      const at = (q: number) => round2(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!);
      const r = { perS: Math.round(latencies.length / (phaseMs / 1000)), p50: at(0.5), p95: at(0.95), p99: at(0.99) };
      log(`round ${round + 1} ${name}: ${JSON.stringify(r)}`);
      results.set(name, [...(results.get(name) ?? []), r]);
    }
  }
  await batcher.close();
  const chain = await verifyAuditChain(db);
  log(`audit chain: ${chain.ok ? "verifies" : "BROKEN"}, ${chain.entries} entries`);
  const base = results.get("read")!;
  const summary = Object.fromEntries(
    [...results].map(([name, rs]) => [
      name,
      {
        reads_per_s: rs.map((r) => r.perS),
        ratio_to_read: rs.map((r, i) => Math.round((r.perS / base[i]!.perS) * 1000) / 1000),
        p50_ms: rs.map((r) => r.p50),
        p95_ms: rs.map((r) => r.p95),
        p99_ms: rs.map((r) => r.p99),
      },
    ]),
  );
  process.stdout.write(`${JSON.stringify({ workers, seconds: phaseMs / 1000, chain_ok: chain.ok, ways: summary })}\n`);
  await database.close();
} finally {
  await server.stop();
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
