import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { archiveAndDropUnit, openArchiveStore } from "@vigil/archive";
import {
  DAY_MS,
  listReadingUnits,
  maintainPartitions,
  migrateToLatest,
  openDatabase,
  sql,
  type VigilDatabase,
} from "@vigil/db";
import { createTestDatabase, repoRoot } from "@vigil/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

const run = promisify(execFile);

describe("npx vigil archive", () => {
  let database: VigilDatabase;
  let url: string;
  let dir: string;
  const day = Math.floor(Date.now() / DAY_MS) * DAY_MS - 400 * DAY_MS;
  const vigil = (...args: string[]) =>
    run(
      process.execPath,
      [join(repoRoot, "packages/cli/src/main.ts"), "archive", ...args, "--archive", `file:${dir}`],
      {
        env: { ...process.env, DATABASE_URL: url },
      },
    );

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "vigil-cli-archive-"));
    url = await createTestDatabase(inject("postgresUrl"), "cli_archive");
    database = await openDatabase(url);
    await migrateToLatest(database.db);
    await sql`INSERT INTO devices (code, number) VALUES ('OR', 7)`.execute(database.db);
    await sql`INSERT INTO sensors (name) VALUES ('arm.x')`.execute(database.db);
    await sql`
      INSERT INTO readings (time, value, seq, received_at, device_id, sensor_id)
      SELECT t, extract(epoch FROM t) / 1e6, 1, t, 1, 1
      FROM generate_series(${new Date(day)}::timestamptz, ${new Date(day + DAY_MS - 1)}::timestamptz, '1 hour') t`.execute(
      database.db,
    );
    // Partition the day (it landed in DEFAULT), then archive it the way the lifecycle service does.
    await maintainPartitions(database.db, Date.now());
    const unit = (await listReadingUnits(database.db, false)).find((u) => u.startMs === day)!;
    await archiveAndDropUnit(database.db, openArchiveStore(`file:${dir}`), unit, { timescale: false, actor: "test" });
  });
  afterAll(async () => {
    await database?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("lists the archived chunks of a range", async () => {
    const { stdout } = await vigil("list");
    expect(JSON.parse(stdout)).toEqual([
      expect.objectContaining({ rangeStart: new Date(day).toISOString(), rows: 24 }),
    ]);
  });

  it("restores a range and prints what it did", async () => {
    const from = new Date(day + 6 * 3_600_000).toISOString();
    const to = new Date(day + 12 * 3_600_000).toISOString();
    const { stdout } = await vigil("restore", "--from", from, "--to", to, "--hold-days", "2");
    expect(JSON.parse(stdout)).toMatchObject({ files: 1, rows: 6, inserted: 6 });
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM readings`.execute(database.db);
    expect(rows[0]!.n).toBe(6);
  });

  it("refuses a range that ends before it starts", async () => {
    await expect(vigil("restore", "--from", "2025-01-02", "--to", "2025-01-01")).rejects.toMatchObject({ code: 2 });
  });
});
