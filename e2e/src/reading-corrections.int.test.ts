import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { hasTimescale, sql } from "@vigil/db";
import { AuditService, ReadingService } from "@vigil/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Pipeline } from "./pipeline.ts";
import { startTestPipeline } from "./test-pipeline.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const MAX_ROWS = 50;

/**
 * Issue 12, item 4: corrections of clinical readings are limited to a role
 * allowed to correct, bounded (one device, a time range, a row limit) and
 * reversible (every prior value kept and shown, soft deletes undone), on
 * both engines, compressed TimescaleDB chunks included.
 */
for (const engine of ["PostgreSQL", "TimescaleDB (embedded)"] as const) {
  describe(`item 4: reading corrections on ${engine}`, () => {
    let pipeline: Pipeline;
    let admin = "";
    let user = "";
    /** Whole hours ten days ago: old enough to be in a compressed chunk. */
    const base = Math.floor((Date.now() - 10 * DAY) / HOUR) * HOUR;

    const client = (token: () => string) => {
      const auth: Interceptor = (next) => async (req) => {
        req.header.set("authorization", `Bearer ${token()}`);
        return next(req);
      };
      return createClient(
        ReadingService,
        createConnectTransport({ baseUrl: pipeline.queryUrl, httpVersion: "1.1", interceptors: [auth] }),
      );
    };
    const failure = async (p: Promise<unknown>) => {
      const err = await p.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ConnectError);
      return err as ConnectError;
    };
    const range = (number: number, fromMs: number, toMs: number, sensor?: string) => ({
      deviceCode: "COR",
      deviceNumber: number,
      ...(sensor ? { sensor } : {}),
      startTime: timestampFromMs(fromMs),
      endTime: timestampFromMs(toMs),
    });

    /** Readings of device COR-number, one per minute from `base`, as the writer would have stored them. */
    async function insert(number: number, sensor: string, count: number) {
      const { db } = pipeline.database;
      await sql`INSERT INTO devices (code, number) VALUES ('COR', ${number}) ON CONFLICT DO NOTHING`.execute(db);
      await sql`INSERT INTO sensors (name) VALUES (${sensor}) ON CONFLICT DO NOTHING`.execute(db);
      // With provenance, as a receiver would have recorded it.
      await sql`
        INSERT INTO reading_sources (device_id, key_prefix, receiver)
        SELECT id, 'corkey', 'receiver-0' FROM devices WHERE code = 'COR' AND number = ${number}
        ON CONFLICT DO NOTHING`.execute(db);
      await sql`
        INSERT INTO readings (time, value, seq, received_at, device_id, sensor_id, source_id)
        SELECT ${new Date(base)}::timestamptz + make_interval(mins => i), 20 + i, i + 1, now(), d.id, s.id, src.id
        FROM generate_series(0, ${count - 1}) AS i, devices d, sensors s, reading_sources src
        WHERE d.code = 'COR' AND d.number = ${number} AND s.name = ${sensor} AND src.device_id = d.id`.execute(db);
      if (await hasTimescale(db)) {
        await sql`
          SELECT compress_chunk(c, if_not_compressed => true)
          FROM show_chunks('readings', older_than => now() - interval '8 days') AS c`.execute(db);
      }
    }

    beforeAll(async () => {
      pipeline = await startTestPipeline({
        env: { QUERY_MAX_CORRECTION_ROWS: String(MAX_ROWS) },
        ...(engine === "PostgreSQL" ? {} : { databaseUrl: "embedded:memory" }),
      });
      admin = await pipeline.adminToken();
      user = await pipeline.userToken(`clinician-${engine.length}`);
    });
    afterAll(() => pipeline?.stop());

    it("item 4: a plain user cannot correct readings, and a correction must name one device and a time range", async () => {
      await insert(1, "spo2", 10);
      const asUser = client(() => user);
      const asAdmin = client(() => admin);
      const denied = await failure(
        asUser.updateReadings({ filter: range(1, base, base + HOUR), changes: { value: 1 } }),
      );
      expect(denied.code).toBe(Code.PermissionDenied);
      expect((await failure(asUser.undeleteReadings({ filter: range(1, base, base + HOUR) }))).code).toBe(
        Code.PermissionDenied,
      );
      // The old guard let any trivial field through: now device and range are required.
      const trivial = await failure(
        asAdmin.updateReadings({ filter: { startTime: timestampFromMs(0) }, changes: { value: 1 } }),
      );
      expect(trivial.code).toBe(Code.InvalidArgument);
      expect(trivial.rawMessage).toMatch(/^filter.device_code: a correction names one device/);
      const noRange = await failure(asAdmin.deleteReadings({ filter: { deviceCode: "COR", deviceNumber: 1 } }));
      expect(noRange.rawMessage).toMatch(/^filter.start_time: a correction names a time range/);
      const unknown = await failure(
        asAdmin.updateReadings({
          filter: { ...range(1, base, base + HOUR), deviceNumber: 999 },
          changes: { value: 1 },
        }),
      );
      expect(unknown.code).toBe(Code.NotFound);
      // Users still read readings and their history.
      const list = await asUser.listReadings({ filter: { deviceCode: "COR", deviceNumber: 1 } });
      expect(list.readings).toHaveLength(10);
      expect((await asUser.getReadingHistory({ correctionId: 1n })).changes).toEqual([]);
    });

    it("item 4: a correction matching more than QUERY_MAX_CORRECTION_ROWS readings is refused and changes nothing", async () => {
      await insert(2, "heart_rate", MAX_ROWS + 1);
      const asAdmin = client(() => admin);
      const tooMany = await failure(
        asAdmin.updateReadings({ filter: range(2, base, base + DAY), changes: { value: 0 } }),
      );
      expect(tooMany.code).toBe(Code.FailedPrecondition);
      expect(tooMany.rawMessage).toMatch(/more than 50 readings; one correction changes at most 50/);
      const { rows } = await sql<{ n: number }>`
        SELECT count(*)::int AS n FROM readings r JOIN devices d ON d.id = r.device_id
        WHERE d.code = 'COR' AND d.number = 2 AND (r.value = 0 OR r.updated_at IS NOT NULL)`.execute(
        pipeline.database.db,
      );
      expect(rows[0]!.n).toBe(0);
      const narrowed = await asAdmin.updateReadings({
        filter: range(2, base, base + MAX_ROWS * 60_000),
        changes: { value: 0 },
      });
      expect(narrowed.updatedCount).toBe(BigInt(MAX_ROWS));
    });

    it("item 4: every prior value is kept and shown by GetReadingHistory, through value, sensor and time corrections", async () => {
      await insert(3, "temp_c", 5);
      const asAdmin = client(() => admin);
      const asUser = client(() => user);
      const t2 = base + 2 * 60_000;
      const one = range(3, t2, t2 + 1);
      const first = await asAdmin.updateReadings({
        filter: one,
        changes: { value: 36.6 },
        reason: "probe recalibrated",
      });
      expect(first.updatedCount).toBe(1n);
      await asAdmin.updateReadings({ filter: one, changes: { value: 36.8 } });
      await asAdmin.updateReadings({ filter: one, changes: { sensor: "body.temp_c" } });
      // A new time a day and a half later: another chunk on TimescaleDB.
      const moved = t2 + 36 * HOUR;
      const last = await asAdmin.updateReadings({
        filter: { ...one, sensor: "body.temp_c" },
        changes: { time: timestampFromMs(moved) },
      });
      expect(last.updatedCount).toBe(1n);
      // A moved reading (deleted and inserted again) keeps its provenance.
      const { rows: provenance } = await sql<{ key_prefix: string | null }>`
        SELECT src.key_prefix FROM readings r LEFT JOIN reading_sources src ON src.id = r.source_id
        WHERE r.time = ${new Date(moved)}`.execute(pipeline.database.db);
      expect(provenance).toEqual([{ key_prefix: "corkey" }]);

      const history = await asUser.getReadingHistory({
        deviceCode: "COR",
        deviceNumber: 3,
        sensor: "body.temp_c",
        time: timestampFromMs(moved),
      });
      const shown = history.changes.map((c) => ({
        action: c.action,
        actor: c.actor,
        before: [c.before!.sensor, timestampMs(c.before!.time!), c.before!.value],
        after: [c.after!.sensor, timestampMs(c.after!.time!), c.after!.value],
      }));
      expect(shown).toEqual([
        { action: "update", actor: "user:admin", before: ["temp_c", t2, 22], after: ["temp_c", t2, 36.6] },
        { action: "update", actor: "user:admin", before: ["temp_c", t2, 36.6], after: ["temp_c", t2, 36.8] },
        { action: "update", actor: "user:admin", before: ["temp_c", t2, 36.8], after: ["body.temp_c", t2, 36.8] },
        {
          action: "update",
          actor: "user:admin",
          before: ["body.temp_c", t2, 36.8],
          after: ["body.temp_c", moved, 36.8],
        },
      ]);
      expect(history.changes[0]!.reason).toBe("probe recalibrated");
      // The reading itself, where it is now, with its original seq.
      const now = await asUser.listReadings({ filter: { deviceCode: "COR", deviceNumber: 3, sensor: "body.temp_c" } });
      expect(now.readings.map((r) => [timestampMs(r.time!), r.value, r.seq])).toEqual([[moved, 36.8, 3n]]);
      // Its old key is free and has no history of its own.
      const oldKey = await asUser.getReadingHistory({
        deviceCode: "COR",
        deviceNumber: 3,
        sensor: "temp_c",
        time: timestampFromMs(t2 + 60_000),
      });
      expect(oldKey.changes).toEqual([]);

      // The audit entry names the correction, and the correction lists what it changed.
      const audit = createClient(
        AuditService,
        createConnectTransport({
          baseUrl: pipeline.queryUrl,
          httpVersion: "1.1",
          interceptors: [
            (next) => async (req) => {
              req.header.set("authorization", `Bearer ${admin}`);
              return next(req);
            },
          ],
        }),
      );
      const { entries } = await audit.listAuditLog({ action: "readings.update" });
      const entry = entries.find((e) => e.target === `correction:${first.correctionId}`);
      expect(entry).toBeDefined();
      expect(entry!.rowsAffected).toBe(1n);
      const byCorrection = await asUser.getReadingHistory({ correctionId: first.correctionId });
      expect(byCorrection.changes.map((c) => [c.before!.value, c.after!.value, c.deviceCode])).toEqual([
        [22, 36.6, "COR"],
      ]);
    });

    it("item 4: a soft delete can be undone, and both are in the readings' history", async () => {
      await insert(4, "resp_rate", 3);
      const asAdmin = client(() => admin);
      const asUser = client(() => user);
      const all = range(4, base, base + HOUR);
      expect((await asAdmin.deleteReadings({ filter: all, reason: "wrong patient" })).deletedCount).toBe(3n);
      expect((await asUser.listReadings({ filter: { deviceCode: "COR", deviceNumber: 4 } })).readings).toEqual([]);
      const undone = await asAdmin.undeleteReadings({ filter: all, reason: "right patient after all" });
      expect(undone.undeletedCount).toBe(3n);
      const back = await asUser.listReadings({ filter: { deviceCode: "COR", deviceNumber: 4 } });
      expect(back.readings.map((r) => r.value)).toEqual([20, 21, 22]);
      const history = await asUser.getReadingHistory({
        deviceCode: "COR",
        deviceNumber: 4,
        sensor: "resp_rate",
        time: timestampFromMs(base + 60_000),
      });
      expect(history.changes.map((c) => [c.action, c.before!.deleted, c.after!.deleted, c.reason])).toEqual([
        ["delete", false, true, "wrong patient"],
        ["undelete", true, false, "right patient after all"],
      ]);
      // Nothing left to undelete.
      expect((await asAdmin.undeleteReadings({ filter: all })).undeletedCount).toBe(0n);
    });

    it("item 3: correcting readings to a known sensor name spends no sensor ids", async () => {
      await insert(5, "known.a", 2);
      const asAdmin = client(() => admin);
      for (let i = 0; i < 5; i++) {
        await asAdmin.updateReadings({
          filter: range(5, base, base + HOUR),
          changes: { sensor: i % 2 === 0 ? "known.b" : "known.a" },
        });
      }
      const { rows } = await sql<{ gap: number }>`
        SELECT (SELECT last_value FROM sensors_id_seq) - (SELECT max(id) FROM sensors) AS gap`.execute(
        pipeline.database.db,
      );
      expect(Number(rows[0]!.gap)).toBe(0);
    });
  });
}
