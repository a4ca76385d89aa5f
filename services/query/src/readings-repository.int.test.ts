import {
  DAY_MS,
  hasTimescale,
  migrateToLatest,
  openDatabase,
  type SeriesIds,
  sql,
  type VigilDatabase,
} from "@vigil/db";
import { createTestDatabase, timescaleServer } from "@vigil/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { ReadingFilter } from "./reading-filter.ts";
import { listReadings, listReadingsQuery, type PageRequest } from "./readings-repository.ts";

/**
 * ListReadings' keyset pages on every engine, and (issue 16) the plan of an
 * unfiltered page: it must read the page's rows from the newest chunk, not
 * sort the whole chunk. On TimescaleDB without migration 0020's index the
 * first page was a sequential scan and a sort of every row of the newest
 * chunk, growing with it into the statement timeout under ingest.
 */
const server = timescaleServer(inject("timescaleUrl"));
const engines = [
  { name: "plain PostgreSQL", url: () => createTestDatabase(inject("postgresUrl"), "pages"), skip: "" },
  { name: "the embedded TimescaleDB", url: async () => "embedded:memory", skip: "" },
  { name: "a TimescaleDB 2.23 server", url: () => server.createDatabase("pages"), skip: server.skipReason },
];

/** The newest day (its own chunk or partition) is large; the two before it small, and compressed on TimescaleDB. */
const NEWEST_DAY_MS = Date.UTC(2026, 0, 10);
const DEVICES = 20;
const SENSORS = 2;
/** Readings of every series share timestamps, so the keyset's tie-breaks on device and sensor are exercised. */
const NEWEST_TIMES = 750;
const OLDER_DEVICES = 10;
const OLDER_TIMES = 200;
const STEP_MS = 2_000;

interface Key {
  timeMs: number;
  deviceId: number;
  sensorId: number;
}

for (const { name, url, skip } of engines)
  describe.skipIf(skip !== "")(`ListReadings pages on ${name}${skip && ` (${skip})`}`, () => {
    let database: VigilDatabase;
    let live: Key[];

    beforeAll(async () => {
      database = await openDatabase(await url());
      const { db } = database;
      await migrateToLatest(db);
      const devices = await sql<{ id: number }>`
        INSERT INTO devices (code, number) SELECT 'OR', n FROM generate_series(1, ${DEVICES}) AS n RETURNING id`.execute(
        db,
      );
      const sensors = await sql<{ id: number }>`
        INSERT INTO sensors (name) SELECT 'pages.s' || n FROM generate_series(1, ${SENSORS}) AS n RETURNING id`.execute(
        db,
      );
      const deviceIds = devices.rows.map((r) => Number(r.id));
      const sensorIds = sensors.rows.map((r) => Number(r.id));
      const all: Array<Key & { deleted: boolean }> = [];
      const add = (dayMs: number, times: number, deviceCount: number) => {
        for (let t = 0; t < times; t++)
          for (const deviceId of deviceIds.slice(0, deviceCount))
            for (const sensorId of sensorIds) {
              const timeMs = dayMs + t * STEP_MS;
              all.push({ timeMs, deviceId, sensorId, deleted: (t * 7 + deviceId + sensorId) % 53 === 0 });
            }
      };
      add(NEWEST_DAY_MS - 2 * DAY_MS, OLDER_TIMES, OLDER_DEVICES);
      add(NEWEST_DAY_MS - DAY_MS, OLDER_TIMES, OLDER_DEVICES);
      add(NEWEST_DAY_MS, NEWEST_TIMES, DEVICES);
      for (let i = 0; i < all.length; i += 10_000) {
        const part = all.slice(i, i + 10_000);
        await sql`
          INSERT INTO readings (time, value, seq, received_at, device_id, sensor_id, deleted_at)
          SELECT to_timestamp(t / 1000.0), t / 1000.0, 1, now(), d, s, CASE WHEN x THEN now() END
          FROM unnest(${part.map((r) => r.timeMs)}::float8[], ${part.map((r) => r.deviceId)}::int4[],
                      ${part.map((r) => r.sensorId)}::int4[], ${part.map((r) => r.deleted)}::bool[]) AS u(t, d, s, x)`.execute(
          db,
        );
      }
      if (await hasTimescale(db)) {
        await sql`SELECT compress_chunk(c) FROM show_chunks('readings', older_than => ${new Date(NEWEST_DAY_MS)}::timestamptz) AS c`.execute(
          db,
        );
      }
      await sql`ANALYZE readings`.execute(db);
      live = all.filter((r) => !r.deleted).map(({ timeMs, deviceId, sensorId }) => ({ timeMs, deviceId, sensorId }));
    });
    afterAll(() => database?.close());

    const keyOf = (r: { time: Date; device_id: number; sensor_id: number }): Key => ({
      timeMs: r.time.getTime(),
      deviceId: Number(r.device_id),
      sensorId: Number(r.sensor_id),
    });
    const ascending = (a: Key, b: Key) => a.timeMs - b.timeMs || a.deviceId - b.deviceId || a.sensorId - b.sensorId;

    /** Every page of a filter in turn, each starting after the last key of the one before. */
    async function walk(filter: ReadingFilter, newestFirst: boolean, limit: number): Promise<Key[]> {
      const keys: Key[] = [];
      let after: PageRequest["after"];
      for (;;) {
        const rows = await listReadings(database.db, filter, {}, { limit, newestFirst, ...(after && { after }) });
        keys.push(...rows.map(keyOf));
        if (rows.length < limit) return keys;
        const last = keys.at(-1)!;
        after = { timeMs: last.timeMs, deviceId: last.deviceId, sensorId: last.sensorId };
      }
    }

    it("walks every live reading newest first and oldest first, compressed chunks included, in (time, device, sensor) order", async () => {
      const oldest = [...live].sort(ascending);
      // 997 a page: pages end inside groups of readings that share a timestamp.
      expect(await walk({}, false, 997)).toEqual(oldest);
      expect(await walk({}, true, 997)).toEqual(oldest.reverse());
    });

    it("walks a time range the same way", async () => {
      const startMs = NEWEST_DAY_MS - DAY_MS + 100 * STEP_MS;
      const endMs = NEWEST_DAY_MS + 300 * STEP_MS;
      const want = live.filter((r) => r.timeMs >= startMs && r.timeMs < endMs).sort(ascending);
      expect(await walk({ startMs, endMs }, false, 501)).toEqual(want);
      expect(await walk({ startMs, endMs }, true, 501)).toEqual(want.reverse());
    });

    /** Rows the readings scans produced or filtered out, over the executed plan. */
    function rowsExamined(plan: PlanNode): { examined: number; sortedRows: number } {
      let examined = 0;
      let sortedRows = 0;
      const visit = (node: PlanNode, underSort: boolean) => {
        const loops = node["Actual Loops"] ?? 0;
        const relation = node["Relation Name"] ?? "";
        const isSort = node["Node Type"] === "Sort";
        if (/^(readings|_hyper_\d+_\d+_chunk)/.test(relation) && loops > 0) {
          const rows = (node["Actual Rows"] ?? 0) + (node["Rows Removed by Filter"] ?? 0);
          examined += rows * loops;
          if (underSort) sortedRows += rows * loops;
        }
        for (const child of node.Plans ?? []) visit(child, underSort || (isSort && loops > 0));
      };
      visit(plan, false);
      return { examined, sortedRows };
    }

    async function executedPlan(page: PageRequest, filter: ReadingFilter = {}, ids: SeriesIds = {}): Promise<PlanNode> {
      const rows = await listReadingsQuery(database.db, filter, ids, page).explain("json", sql`analyze`);
      const raw = (rows[0] as Record<string, unknown>)["QUERY PLAN"];
      const parsed = (typeof raw === "string" ? JSON.parse(raw) : raw) as Array<{ Plan: PlanNode }>;
      return parsed[0]!.Plan;
    }

    it(`reads one page's rows from the newest chunk, not all ${DEVICES * SENSORS * NEWEST_TIMES} of them (issue 16)`, async () => {
      const limit = 101; // a page of 100 and the row that says another follows
      const newestChunkRows = DEVICES * SENSORS * NEWEST_TIMES;
      const middle = { timeMs: NEWEST_DAY_MS + 400 * STEP_MS, deviceId: 10, sensorId: 1 };
      const pages: Array<[string, PageRequest, ReadingFilter]> = [
        ["the first page, newest first", { limit, newestFirst: true }, {}],
        ["a page after a cursor, newest first", { limit, newestFirst: true, after: middle }, {}],
        ["a page after a cursor, oldest first", { limit, newestFirst: false, after: middle }, {}],
        ["the newest day from its start, oldest first", { limit, newestFirst: false }, { startMs: NEWEST_DAY_MS }],
      ];
      for (const [what, page, filter] of pages) {
        const { examined, sortedRows } = rowsExamined(await executedPlan(page, filter));
        // A page and what soft deletes and ties around the cursor add; a whole-chunk sort reads 30,000.
        expect({ what, sortedRows, tooMany: examined > 3 * limit }).toEqual({ what, sortedRows: 0, tooMany: false });
        expect(examined).toBeLessThan(newestChunkRows / 10);
      }
    });
  });

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Actual Rows"?: number;
  "Actual Loops"?: number;
  "Rows Removed by Filter"?: number;
  Plans?: PlanNode[];
}
