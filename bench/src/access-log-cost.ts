/**
 * `npm run bench:access-log -- [--workers 16] [--seconds 5] [--rounds 3]`:
 * what the access log costs a read of readings, on a private PostgreSQL.
 * `--workers` clients each run a page read (100 readings of one device, as
 * ListReadings does) in a loop, in phases that mix two ways request by
 * request (so both meet the same load at the same moment):
 *
 * - `read`: the page only (no access log);
 * - `read + batched entry`: then the audit entry through AuditBatcher, the
 *   read answered once the entry is committed (what the query service does);
 * - `read + own INSERT`: then one recordAudit per read (each its own append
 *   to the hash chain: the design the batcher replaces).
 *
 * Phases: plain reads beside reads with a batched entry, and plain reads
 * beside reads with their own INSERT. Reports reads per second and latency
 * percentiles per way and round, and each way's latency over the plain
 * read's in the same phase.
 */
import { AuditBatcher, migrateToLatest, openDatabase, recordAudit, sql, verifyAuditChain } from "@vigil/db";
import { createTestDatabase, ensureTools, scriptArgs, startPostgres } from "@vigil/testkit";

const USAGE = `usage: npm run bench:access-log -- [--workers 16] [--seconds 5] [--rounds 3]
  What the access log costs a read of readings: plain page reads beside reads with a batched access
  entry, and beside reads with one INSERT each.
  --workers N     concurrent clients reading pages (default 16)
  --seconds N     length of each phase (default 5)
  --rounds N      rounds of the phases (default 3)
`;
const { values: flags, positiveInt } = scriptArgs("bench:access-log", USAGE, {
  workers: { type: "string", default: "16" },
  seconds: { type: "string", default: "5" },
  rounds: { type: "string", default: "3" },
});
const workers = positiveInt(flags.workers, "--workers");
const phaseMs = positiveInt(flags.seconds, "--seconds") * 1000;
const rounds = positiveInt(flags.rounds, "--rounds");
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

  // Two pairings, each phase mixing its two ways request by request (worker w's i-th request is
  // way (w + i) % 2), so both meet the same load at the same moment.
  const pairings: Array<[string, string]> = [
    ["read", "read + batched entry"],
    ["read", "read + own INSERT"],
  ];
  type Stats = { perS: number; p50: number; p95: number; p99: number };
  const results = new Map<string, Stats[]>();
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? pairings : [...pairings].reverse();
    for (const pair of order) {
      const latencies = new Map<string, number[]>(pair.map((name) => [name, []]));
      const until = performance.now() + phaseMs;
      await Promise.all(
        Array.from({ length: workers }, async (_, w) => {
          for (let i = 0; performance.now() < until; i++) {
            const name = pair[(w + i) % 2]!;
            const t0 = performance.now();
            await ways[name]!(w, 1 + ((w + i) % DEVICES));
            latencies.get(name)!.push(performance.now() - t0);
          }
        }),
      );
      for (const [name, list] of latencies) {
        list.sort((a, b) => a - b);
        const at = (q: number) => round2(list[Math.min(list.length - 1, Math.floor(q * list.length))]!);
        const r = { perS: Math.round(list.length / (phaseMs / 1000)), p50: at(0.5), p95: at(0.95), p99: at(0.99) };
        const key = `${name} (beside ${pair.find((p) => p !== name)})`;
        log(`round ${round + 1} ${key}: ${JSON.stringify(r)}`);
        results.set(key, [...(results.get(key) ?? []), r]);
      }
    }
  }
  await batcher.close();
  const chain = await verifyAuditChain(db);
  log(`audit chain: ${chain.ok ? "verifies" : "BROKEN"}, ${chain.entries} entries`);
  const summary = Object.fromEntries(
    [...results].map(([name, rs]) => [
      name,
      {
        reads_per_s: rs.map((r) => r.perS),
        p50_ms: rs.map((r) => r.p50),
        p95_ms: rs.map((r) => r.p95),
        p99_ms: rs.map((r) => r.p99),
      },
    ]),
  );
  // Each way's p50 and p95 over the plain read's in the same phase.
  const ratios = Object.fromEntries(
    pairings.map(([base, way]) => {
      const a = results.get(`${base} (beside ${way})`)!;
      const b = results.get(`${way} (beside ${base})`)!;
      return [
        way,
        {
          p50_ratio: b.map((r, i) => round2(r.p50 / a[i]!.p50)),
          p95_ratio: b.map((r, i) => round2(r.p95 / a[i]!.p95)),
          p50_added_ms: b.map((r, i) => round2(r.p50 - a[i]!.p50)),
        },
      ];
    }),
  );
  process.stdout.write(
    `${JSON.stringify({ workers, seconds: phaseMs / 1000, chain_ok: chain.ok, ways: summary, ratios })}\n`,
  );
  await database.close();
} finally {
  await server.stop();
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
