import type { Database } from "@vigil/db";
import {
  DAY_MS,
  DEFAULT_LIFECYCLE,
  hasTimescale,
  type Kysely,
  listPolicyJobs,
  maintainPartitions,
  refreshRollups,
  refreshWindowMs,
  runPolicyJob,
  sql,
} from "@vigil/db";
import { createDevice } from "@vigil/devices";
import { DEVICE_KINDS, type DeviceKind, type SensorSpec } from "@vigil/simulator";
import pg from "pg";

/** One kind of device in the benchmark fleet. */
export interface FleetGroup {
  code: string;
  kind: DeviceKind;
  devices: number;
  /** Sampling period relative to the robots' (robots 1, monitors 2, rooms 6). */
  periodFactor: number;
}

/**
 * The fleet of a hospital site: surgical robots (5 sensors) sample fastest,
 * patient monitors (2 sensors) half as often, room sensors (3) a sixth as
 * often. `devices` is split 40 % / 40 % / 20 %.
 */
export function benchFleet(devices: number): FleetGroup[] {
  const robots = Math.max(1, Math.round(devices * 0.4));
  const monitors = Math.max(1, Math.round(devices * 0.4));
  const rooms = Math.max(1, devices - robots - monitors);
  return [
    { code: "OR", kind: "surgical_robot", devices: robots, periodFactor: 1 },
    { code: "PM", kind: "patient_monitor", devices: monitors, periodFactor: 2 },
    { code: "ENV", kind: "environment", devices: rooms, periodFactor: 6 },
  ];
}

/** One (device, sensor) stream of evenly spaced readings. */
interface Series {
  deviceId: number;
  sensorId: number;
  spec: SensorSpec;
  count: number;
  periodMs: number;
  phaseMs: number;
}

export interface LoadOutcome {
  readings: number;
  devices: number;
  days: number;
  series: number;
  /** Milliseconds between two readings of a robot's sensor. */
  robotPeriodMs: number;
  startMs: number;
  endMs: number;
  seconds: { devices: number; insert: number; maintenance: number; vacuum: number };
}

export interface LoadOptions {
  readings: number;
  days: number;
  devices: number;
  /** The last reading is just before this time. */
  endMs: number;
  log(msg: string): void;
}

/**
 * Fills an empty, migrated database the way production would have it after
 * `days` of ingest: devices registered as operators do, rows inserted in
 * arrival (time) order one day per statement through the parent table (so
 * every index, and on plain PostgreSQL the rollup trigger, takes every row),
 * then what the lifecycle service would have done meanwhile, and every partition or
 * chunk vacuumed and analyzed as autovacuum would. Plain PostgreSQL: daily
 * partitions made ahead as the days went by, the rollup refresh run until it
 * has caught up. TimescaleDB (a hypertable of daily chunks): the refresh
 * policies of both continuous aggregates and the compression policy (chunks
 * older than 7 days compressed), as the lifecycle service runs them.
 */
export async function loadDataset(db: Kysely<Database>, databaseUrl: string, o: LoadOptions): Promise<LoadOutcome> {
  const span = o.days * DAY_MS;
  const startMs = o.endMs - span;
  let t = performance.now();
  const lap = () => {
    const s = (performance.now() - t) / 1000;
    t = performance.now();
    return Math.round(s * 10) / 10;
  };

  const fleet = benchFleet(o.devices);
  const names = [...new Set(fleet.flatMap((g) => DEVICE_KINDS[g.kind].map((s) => s.name)))];
  await db
    .insertInto("sensors")
    .values(names.map((name) => ({ name })))
    .onConflict((oc) => oc.column("name").doNothing())
    .execute();
  const sensorIds = new Map(
    (await db.selectFrom("sensors").select(["id", "name"]).execute()).map((r) => [r.name, r.id] as const),
  );
  const weighted: Array<{ deviceId: number; sensorId: number; spec: SensorSpec; factor: number }> = [];
  for (const group of fleet) {
    for (let n = 1; n <= group.devices; n++) {
      const { id } = await createDevice(
        { db, actor: "system:bench" },
        { code: group.code, number: n, kind: group.kind, site: "bench" },
      );
      for (const spec of DEVICE_KINDS[group.kind]) {
        weighted.push({ deviceId: id, sensorId: sensorIds.get(spec.name)!, spec, factor: group.periodFactor });
      }
    }
  }
  const devicesS = lap();

  // Readings per series in proportion to its rate; the remainder goes to the first ones.
  const totalRate = weighted.reduce((sum, w) => sum + 1 / w.factor, 0);
  const series: Series[] = weighted.map((w, i) => {
    const count = Math.floor((o.readings * (1 / w.factor)) / totalRate);
    return { ...w, count, periodMs: 0, phaseMs: i };
  });
  let left = o.readings - series.reduce((sum, s) => sum + s.count, 0);
  for (let i = 0; left > 0; i = (i + 1) % series.length, left--) series[i]!.count++;
  for (const [i, s] of series.entries()) {
    s.periodMs = span / s.count;
    // Spread the series over the period so they do not all sample at the same millisecond.
    s.phaseMs = Math.floor(((i * 7919) % 1000) * (s.periodMs / 1000)) % Math.max(1, Math.floor(s.periodMs));
  }
  const robotPeriodMs = Math.min(...series.map((s) => s.periodMs));
  if (robotPeriodMs < 1) throw new Error("too many readings for the period: two would share a millisecond");
  o.log(
    `${series.length} series on ${o.devices} devices; a robot sensor every ${(robotPeriodMs / 1000).toFixed(1)} s over ${o.days} days`,
  );

  const timescale = await hasTimescale(db);
  // The lifecycle service's partition job, as it ran once a day over the period:
  // every day gets its partition before its readings arrive.
  for (let day = Math.floor(startMs / DAY_MS) * DAY_MS; !timescale && day <= o.endMs; day += DAY_MS) {
    await maintainPartitions(db, day);
  }
  if (!timescale) await maintainPartitions(db, o.endMs);

  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  let inserted = 0;
  try {
    await client.query(`CREATE TEMP TABLE bench_series (
      device_id int4, sensor_id int4, n int8, period_ms float8, phase_ms int8,
      nominal float8, amp float8, noise float8, lo float8, hi float8, decimals int4, shift float8)`);
    await client.query(
      `INSERT INTO bench_series SELECT * FROM unnest($1::int4[], $2::int4[], $3::int8[], $4::float8[], $5::int8[],
        $6::float8[], $7::float8[], $8::float8[], $9::float8[], $10::float8[], $11::int4[], $12::float8[])`,
      [
        series.map((s) => s.deviceId),
        series.map((s) => s.sensorId),
        series.map((s) => s.count),
        series.map((s) => s.periodMs),
        series.map((s) => s.phaseMs),
        series.map((s) => s.spec.nominal),
        series.map((s) => (s.spec.max - s.spec.min) / 12),
        series.map((s) => s.spec.volatility * 3),
        series.map((s) => s.spec.min),
        series.map((s) => s.spec.max),
        series.map((s) => s.spec.decimals),
        series.map((_, i) => (i * 0.618) % (2 * Math.PI)),
      ],
    );
    // A day per statement, in time order (the order readings arrive in).
    // Values: a daily cycle plus deterministic noise (a hash of the sample's
    // index), clamped to the sensor's range and rounded as devices report.
    // seq: one batch per ten samples; received 0.8 s after measured.
    for (let day = Math.floor(startMs / DAY_MS) * DAY_MS; day < o.endMs; day += DAY_MS) {
      const lo = Math.max(day, startMs);
      const hi = Math.min(day + DAY_MS, o.endMs);
      const result = await client.query(
        `INSERT INTO readings (time, value, seq, received_at, device_id, sensor_id)
         SELECT TIMESTAMPTZ 'epoch' + t_ms * INTERVAL '1 millisecond',
                round(least(hi, greatest(lo, nominal + amp * sin(2 * pi() * t_ms / 86400000.0 + shift)
                  + noise * hashint8(k * 2654435761 + device_id * 31 + sensor_id)::float8 / 2147483648.0))::numeric,
                  decimals)::float8,
                k / 10 + 1,
                TIMESTAMPTZ 'epoch' + (t_ms + 800) * INTERVAL '1 millisecond',
                device_id, sensor_id
         FROM (
           SELECT s.*, k, $1::int8 + s.phase_ms + floor(k * s.period_ms)::int8 AS t_ms
           FROM bench_series s
           CROSS JOIN LATERAL generate_series(
             greatest(0, floor(($2::int8 - $1::int8 - s.phase_ms) / s.period_ms)::int8 - 1),
             least(s.n - 1, ceil(($3::int8 - $1::int8 - s.phase_ms) / s.period_ms)::int8 + 1)) AS k
         ) AS x
         WHERE t_ms >= $2::int8 AND t_ms < $3::int8
         ORDER BY t_ms, device_id, sensor_id`,
        [startMs, lo, hi],
      );
      inserted += result.rowCount ?? 0;
      o.log(`inserted ${new Date(day).toISOString().slice(0, 10)}: ${inserted.toLocaleString("en")} readings`);
    }
  } finally {
    await client.end();
  }
  if (inserted !== o.readings) throw new Error(`inserted ${inserted} readings, expected ${o.readings}`);
  const insertS = lap();

  if (timescale) {
    // The lifecycle service's policy jobs: both refreshes (their window covers the whole month), then
    // compression of the chunks past its age, as they would stand after a month of runs.
    for (const job of await listPolicyJobs(db)) {
      if (job.kind !== "refresh" && job.kind !== "compression") continue;
      await runPolicyJob(db, job);
      o.log(`ran the ${job.kind} policy of ${job.relation}`);
    }
  } else {
    // The lifecycle service's rollup job: each run materializes at most a week, so
    // a month of backlog takes several runs (production ran it every minute).
    const windowMs = refreshWindowMs(DEFAULT_LIFECYCLE);
    let previous = Number.NaN;
    for (;;) {
      const out = await refreshRollups(db, { nowMs: o.endMs, windowMs });
      o.log(`rollups materialized up to ${new Date(out.watermark1mMs).toISOString()}`);
      if (out.watermark1mMs === previous) break;
      previous = out.watermark1mMs;
    }
  }
  const maintenanceS = lap();

  // What autovacuum does to insert-only tables: vacuum (visibility map, so
  // index-only scans skip the heap) and analyze each leaf partition or chunk
  // (TimescaleDB: also each compressed chunk and the aggregates' own
  // hypertables' chunks) and the rollup tables. It never analyzes a
  // partitioned parent, so neither does this.
  const { rows } = await sql<{ name: string }>`
    SELECT format('%I.%I', n.nspname, c.relname) AS name
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind = 'r' AND (
      c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'readings'::regclass)
      OR c.relname IN ('readings_1m_rollup', 'readings_1h_rollup', 'devices', 'sensors')
      OR n.nspname = '_timescaledb_internal')
    ORDER BY 1`.execute(db);
  for (const { name } of rows) await sql`VACUUM (ANALYZE) ${sql.raw(name)}`.execute(db);
  await sql`CHECKPOINT`.execute(db);
  const vacuumS = lap();

  return {
    readings: inserted,
    devices: o.devices,
    days: o.days,
    series: series.length,
    robotPeriodMs,
    startMs,
    endMs: o.endMs,
    seconds: { devices: devicesS, insert: insertS, maintenance: maintenanceS, vacuum: vacuumS },
  };
}

/** What a database loaded by an earlier run holds (`--database-url`); load times are unknown (0). */
export async function describeDataset(db: Kysely<Database>): Promise<LoadOutcome> {
  const { rows } = await sql<{ n: number; series: number; lo: number; hi: number; devices: number; fastest: number }>`
    SELECT count(*)::float8 AS n, count(DISTINCT (device_id, sensor_id))::float8 AS series,
           (extract(epoch FROM min(time)) * 1000)::float8 AS lo, (extract(epoch FROM max(time)) * 1000)::float8 AS hi,
           (SELECT count(*) FROM devices)::float8 AS devices,
           (SELECT (extract(epoch FROM max(time) - min(time)) * 1000 / greatest(1, count(*) - 1))::float8
            FROM readings WHERE device_id = (SELECT min(id) FROM devices) AND sensor_id = (SELECT min(id) FROM sensors)) AS fastest
    FROM readings`.execute(db);
  const r = rows[0]!;
  const startMs = Math.floor(Number(r.lo) / DAY_MS) * DAY_MS;
  const endMs = Math.ceil((Number(r.hi) + 1) / 1000) * 1000;
  return {
    readings: Number(r.n),
    devices: Number(r.devices),
    days: Math.round((endMs - Number(r.lo)) / DAY_MS),
    series: Number(r.series),
    robotPeriodMs: Number(r.fastest),
    startMs,
    endMs,
    seconds: { devices: 0, insert: 0, maintenance: 0, vacuum: 0 },
  };
}
