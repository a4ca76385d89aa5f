import { readFileSync } from "node:fs";
import pg from "pg";

export interface LossReport {
  /** Readings in batches the simulator saw acked. */
  acked: number;
  /** Readings stored for those devices. */
  stored: number;
  /** Acked readings missing from the table. */
  lost: number;
  /** Rows beyond a batch's reading count (stored more than once). */
  duplicates: number;
}

/**
 * Compares, per device and batch seq, what the simulator saw acked (its
 * SIMULATOR_ACKED_FILE) with the rows in `readings`. With `codes`, only the
 * rows of those device codes are read and counted (one fleet, or one run,
 * among others sharing the database).
 */
export async function checkLoss(
  databaseUrl: string,
  ackedFile: string,
  codes?: string | readonly string[],
): Promise<LossReport> {
  const only = codes === undefined ? null : typeof codes === "string" ? [codes] : [...codes];
  const acked: Record<string, Array<[number, number]>> = JSON.parse(readFileSync(ackedFile, "utf8"));
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ key: string; n: string }>(
      `SELECT d.code || '-' || d.number || ':' || r.seq AS key, count(*) AS n
       FROM readings r JOIN devices d ON d.id = r.device_id
       WHERE $1::text[] IS NULL OR d.code = ANY($1) GROUP BY d.code, d.number, r.seq`,
      [only],
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

/** Rows in readings (of the devices with `code` only, when given). */
export async function countReadings(databaseUrl: string, code?: string): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>(
      code === undefined
        ? "SELECT count(*) AS n FROM readings"
        : "SELECT count(*) AS n FROM readings WHERE device_id IN (SELECT id FROM devices WHERE code = $1)",
      code === undefined ? [] : [code],
    );
    return Number(rows[0]?.n ?? 0);
  } finally {
    await client.end();
  }
}
