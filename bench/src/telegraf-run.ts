import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { exited, findExecutable, freePort, type LossReport, repoRoot, waitFor } from "@vigil/testkit";
import pg from "pg";
import { meterCpu } from "./cpu-meter.ts";

/** Telegraf's measurement and so its table; its tags go to `reading_tag` (tags_as_foreign_keys). */
export const TELEGRAF_TABLE = "reading";

export interface TelegrafRunOptions {
  /** The database Vigil migrated: Telegraf writes its own tables beside Vigil's. */
  databaseUrl: string;
  postgresPid: number;
  work: string;
  /** Device names CODE-1..devices: each run its own. */
  code: string;
  devices: number;
  batchSize: number;
  durationS: number;
  pace: "fast" | number;
  /** SIGKILL Telegraf this many seconds in, start it again a second later. */
  killAtS?: number;
}

export interface TelegrafRun {
  readingsPerS: number;
  seconds: number;
  summary: {
    acked: number;
    readingsAcked: number;
    refused: number;
    failed: number;
    ackLatencyMs: { p50: number; p99: number };
    recentAckLatencyMs: { p50: number; p99: number };
  };
  loss: LossReport;
  cpu: Record<string, number>;
}

/**
 * Telegraf as a team would run it for "sensors into TimescaleDB": the
 * InfluxDB v2 listener (line protocol over HTTP) and the PostgreSQL output
 * with the TimescaleDB templates of its README (tags in a tag table, a
 * hypertable compressed by tag), tuned for throughput: batches of 10,000
 * metrics flushed every second, a buffer of a million, four connections, and
 * the listener's bound on undelivered metrics so devices are held back (429)
 * instead of metrics being dropped from a full buffer.
 */
export function telegrafConfig(listenPort: number, databaseUrl: string): string {
  const connection = new URL(databaseUrl);
  connection.searchParams.set("sslmode", "disable");
  connection.searchParams.set("pool_max_conns", "4");
  return `[agent]
  interval = "10s"
  metric_batch_size = 10000
  metric_buffer_limit = 1000000
  flush_interval = "1s"
  flush_jitter = "0s"
  omit_hostname = true
  quiet = true

[[inputs.influxdb_v2_listener]]
  service_address = "127.0.0.1:${listenPort}"
  max_undelivered_metrics = 200000
  parser_type = "upstream"

[[outputs.postgresql]]
  connection = "${connection.href}"
  tags_as_foreign_keys = true
  timestamp_column_type = "timestamp with time zone"
  create_templates = [
    '''CREATE TABLE {{ .table }} ({{ .columns }})''',
    '''SELECT create_hypertable({{ .table|quoteLiteral }}, 'time', chunk_time_interval => INTERVAL '7d')''',
    '''ALTER TABLE {{ .table }} SET (timescaledb.compress, timescaledb.compress_segmentby = 'tag_id')''',
  ]
`;
}

/**
 * One timed run of Telegraf: it is started, the line-protocol fleet sends for
 * the duration (as fast as answers allow, or paced), then the run waits until
 * every acked reading is in the table (or, after a kill, until no more
 * arrive) and compares, per device and batch, what was acked with the rows.
 */
export async function runTelegraf(o: TelegrafRunOptions): Promise<TelegrafRun> {
  const binary = findExecutable("telegraf");
  if (!binary) throw new Error("telegraf is not installed (run scripts/install-tools.sh telegraf)");
  const port = await freePort();
  const config = join(o.work, `telegraf-${o.code}.conf`);
  writeFileSync(config, telegrafConfig(port, o.databaseUrl), { mode: 0o600 });
  let telegraf: ChildProcess | undefined;
  let output = "";
  const start = async () => {
    const child = spawn(binary, ["--config", config], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout?.on("data", (c) => {
      output = (output + c).slice(-20_000);
    });
    child.stderr?.on("data", (c) => {
      output = (output + c).slice(-20_000);
    });
    telegraf = child;
    await waitFor(
      "telegraf's listener",
      async () => {
        if (child.exitCode !== null) throw new Error(`telegraf exited:\n${output}`);
        const res = await fetch(`http://127.0.0.1:${port}/api/v2/write?bucket=bench`, {
          method: "POST",
          body: "",
        }).catch(() => undefined);
        return res !== undefined;
      },
      30_000,
    );
    return child;
  };
  const first = await start();
  const ackedFile = join(o.work, `acked-${o.code}.json`);
  const cpuMeter = meterCpu({ telegraf: [first.pid!], postgres: [o.postgresPid] });
  const startedAt = performance.now();
  const fleet = spawn(
    process.execPath,
    [
      join(repoRoot, "bench/src/line-protocol-fleet.ts"),
      ...["--url", `http://127.0.0.1:${port}`, "--code", o.code, "--devices", String(o.devices)],
      ...["--batch-size", String(o.batchSize), "--duration-s", String(o.durationS), "--pace", String(o.pace)],
      ...["--acked-file", ackedFile],
    ],
    { cwd: repoRoot, stdio: ["ignore", "pipe", "inherit"] },
  );
  let fleetOut = "";
  fleet.stdout?.on("data", (c) => {
    fleetOut += c;
  });
  cpuMeter.add("client", [fleet.pid!]);
  let restarted: Promise<void> | undefined;
  const killTimer =
    o.killAtS === undefined
      ? undefined
      : setTimeout(() => {
          restarted = (async () => {
            const dying = telegraf!;
            dying.kill("SIGKILL");
            await exited(dying);
            await new Promise((r) => setTimeout(r, 1_000));
            const again = await start();
            cpuMeter.add("telegraf", [again.pid!]);
          })();
        }, o.killAtS * 1000);
  await exited(fleet);
  clearTimeout(killTimer);
  await restarted;
  const line = fleetOut.split("\n").find((l) => l.startsWith('{"summary"'));
  if (!line) throw new Error(`the line-protocol fleet printed no summary:\n${fleetOut.slice(-2000)}`);
  const summary = JSON.parse(line).summary as TelegrafRun["summary"];

  // Until every acked reading is stored, or (after a kill: some never will be) until the count stops moving.
  let stored = 0;
  let still = 0;
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const now = await countRows(o.databaseUrl, o.code);
    if (now >= summary.readingsAcked) break;
    still = now === stored ? still + 1 : 0;
    stored = now;
    if (still >= 30) break; // 3 s without a new row, Telegraf's flush interval being 1 s
    await new Promise((r) => setTimeout(r, 100));
  }
  const seconds = (performance.now() - startedAt) / 1000;
  const cpu = cpuMeter.stop();
  telegraf?.kill("SIGTERM");
  if (telegraf) await exited(telegraf);
  const loss = await checkTelegrafLoss(o.databaseUrl, ackedFile, o.code);
  return { readingsPerS: loss.stored / seconds, seconds, summary, loss, cpu };
}

async function countRows(databaseUrl: string, code: string): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows: exists } = await client.query("SELECT to_regclass($1) IS NOT NULL AS ok", [TELEGRAF_TABLE]);
    if (!exists[0]?.ok) return 0;
    const { rows } = await client.query<{ n: string }>(
      `SELECT count(*) AS n FROM ${TELEGRAF_TABLE} r JOIN ${TELEGRAF_TABLE}_tag t USING (tag_id) WHERE t.device LIKE $1`,
      [`${code}-%`],
    );
    return Number(rows[0]?.n ?? 0);
  } finally {
    await client.end();
  }
}

/** Acked batches (device, seq) against Telegraf's rows, as checkLoss does for Vigil's. */
async function checkTelegrafLoss(databaseUrl: string, ackedFile: string, code: string): Promise<LossReport> {
  const acked: Record<string, Array<[number, number]>> = JSON.parse(readFileSync(ackedFile, "utf8"));
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ key: string; n: string }>(
      `SELECT t.device || ':' || r.seq AS key, count(*) AS n
       FROM ${TELEGRAF_TABLE} r JOIN ${TELEGRAF_TABLE}_tag t USING (tag_id)
       WHERE t.device LIKE $1 GROUP BY t.device, r.seq`,
      [`${code}-%`],
    );
    const stored = new Map(rows.map((r) => [r.key, Number(r.n)]));
    const report: LossReport = { acked: 0, stored: 0, lost: 0, duplicates: 0 };
    for (const n of stored.values()) report.stored += n;
    for (const [device, batches] of Object.entries(acked)) {
      for (const [seq, readings] of batches) {
        const have = stored.get(`${device}:${seq}`) ?? 0;
        report.acked += readings;
        report.lost += Math.max(0, readings - have);
        report.duplicates += Math.max(0, have - readings);
      }
    }
    return report;
  } finally {
    await client.end();
  }
}
