import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { ReadingBus } from "@vigil/bus";
import {
  type Database,
  deviceConditions,
  type Kysely,
  readingStats,
  resolveSeriesIds,
  type StatsSource as Source,
  statsSource,
} from "@vigil/db";
import {
  type Reading,
  type ReadingChange,
  ReadingChangeSchema,
  type ReadingProvenance,
  ReadingSchema,
  type ReadingService,
  StatsBucketSchema,
  StatsSource,
} from "@vigil/proto";
import { actorOf, cutConnectionKey, principalOf, traceIdOf } from "./auth/principal.ts";
import type { ConcurrencyLimit } from "./concurrency-limit.ts";
import { decodeCursor, encodeCursor, hasIntegers } from "./paging.ts";
import { type AccessLog, listAccessEntry, statsAccessEntry, watchAccessEntry } from "./reading-access.ts";
import { applyCorrection, correctionChanges, type ReadingChangeRow, readingHistory } from "./reading-corrections.ts";
import type { ReadingFilter } from "./reading-filter.ts";
import { PROVENANCE_SCOPE, ReadingProvenanceResolver } from "./reading-provenance.ts";
import {
  parseDeleteRequest,
  parseHistoryRequest,
  parseListRequest,
  parseStatsRequest,
  parseUndeleteRequest,
  parseUpdateRequest,
  parseWatchRequest,
} from "./reading-requests.ts";
import { countReadings, listReadings, type ReadingRow } from "./readings-repository.ts";
import { watchReadings } from "./watch-readings.ts";

/** GetStatsResponse.source for each source readingStats may answer from. */
const STATS_SOURCES: Record<Source, StatsSource> = {
  raw: StatsSource.RAW,
  "1m": StatsSource.AGGREGATE_1M,
  "1h": StatsSource.AGGREGATE_1H,
};

export interface ReadingServiceDeps {
  db: Kysely<Database>;
  bus: ReadingBus;
  /** Batches a watcher may fall behind by before it is dropped. */
  watchBufferBatches: number;
  /** How old and how far ahead a reading's time may be (retention, clock skew), for corrections. */
  readingWindow: { maxAgeMs: number; maxFutureSkewMs: number };
  /** Concurrent WatchReadings per user (each holds a consumer on the log). */
  watches: ConcurrencyLimit;
  /** Most readings one correction may change (QUERY_MAX_CORRECTION_ROWS). */
  maxCorrectionRows: number;
  /** Where reads of readings and stats are recorded (one audit entry per request). */
  access: AccessLog;
}

/** Where the next page starts (the sort key of the last row) and the total counted on the first page. */
interface ReadingCursor {
  t: number;
  d: number;
  s: number;
  n: number;
}

const isReadingCursor = (c: unknown): c is ReadingCursor => hasIntegers(c, "t", "d", "s", "n");

/** Where the next page of a correction's changes starts: sensor id and time in microseconds (text, exact). */
interface ChangeCursor {
  s: number;
  t: string;
}

const isChangeCursor = (c: unknown): c is ChangeCursor =>
  hasIntegers(c, "s") && typeof (c as { t?: unknown }).t === "string" && /^-?\d{1,20}$/.test((c as { t: string }).t);

/** vigil.readings.v1.ReadingService over Connect, gRPC and gRPC-Web. */
export function readingService(deps: ReadingServiceDeps): ServiceImpl<typeof ReadingService> {
  const { db } = deps;
  const provenance = new ReadingProvenanceResolver(db);
  return {
    async listReadings(req, ctx) {
      const { filter, pageSize, newestFirst } = parseListRequest(req);
      const cursor = req.pageToken ? decodeCursor(req.pageToken, req, isReadingCursor) : undefined;
      const ids = await resolveSeriesIds(db, filter);
      const after = cursor && { timeMs: cursor.t, deviceId: cursor.d, sensorId: cursor.s };
      // Counted once, on the first page (on a second connection, while the page is read);
      // later pages repeat it from the token.
      const [total, rows] = await Promise.all([
        cursor?.n ?? (ids ? countReadings(db, filter, ids) : 0),
        ids ? listReadings(db, filter, ids, { limit: pageSize + 1, newestFirst, after }) : [],
      ]);
      const more = rows.length > pageSize;
      const shown = more ? rows.slice(0, pageSize) : rows;
      const last = shown.at(-1);
      const sources = principalOf(ctx)?.scopes.includes(PROVENANCE_SCOPE)
        ? await provenance.resolve(shown.map((r) => r.source_id))
        : undefined;
      // On record before it is answered (batched with concurrent reads: reading-access.ts).
      await deps.access.record(
        listAccessEntry(
          ctx,
          filter,
          { nextPage: cursor !== undefined, newestFirst },
          shown.map((r) => `${r.device_code}-${r.device_number}`),
          shown.length,
        ),
      );
      return {
        readings: shown.map((r) => toReading(r, sources)),
        nextPageToken:
          more && last
            ? encodeCursor({ t: last.time.getTime(), d: last.device_id, s: last.sensor_id, n: total }, req)
            : "",
        totalSize: BigInt(total),
      };
    },

    async updateReadings(req, ctx) {
      const { scope, changes, reason } = parseUpdateRequest(req, { nowMs: Date.now(), ...deps.readingWindow });
      const out = await applyCorrection(db, {
        action: "update",
        scope,
        changes,
        reason,
        actor: actorOf(ctx),
        traceId: traceIdOf(ctx),
        maxRows: deps.maxCorrectionRows,
      });
      return { updatedCount: BigInt(out.count), correctionId: BigInt(out.correctionId) };
    },

    async deleteReadings(req, ctx) {
      const { scope, reason } = parseDeleteRequest(req);
      const out = await applyCorrection(db, {
        action: "delete",
        scope,
        reason,
        actor: actorOf(ctx),
        traceId: traceIdOf(ctx),
        maxRows: deps.maxCorrectionRows,
      });
      return { deletedCount: BigInt(out.count), correctionId: BigInt(out.correctionId) };
    },

    async undeleteReadings(req, ctx) {
      const { scope, reason } = parseUndeleteRequest(req);
      const out = await applyCorrection(db, {
        action: "undelete",
        scope,
        reason,
        actor: actorOf(ctx),
        traceId: traceIdOf(ctx),
        maxRows: deps.maxCorrectionRows,
      });
      return { undeletedCount: BigInt(out.count), correctionId: BigInt(out.correctionId) };
    },

    async getReadingHistory(req) {
      const parsed = parseHistoryRequest(req);
      if (parsed.kind === "reading") {
        return { changes: (await readingHistory(db, parsed)).map(toChange), nextPageToken: "" };
      }
      const cursor = req.pageToken ? decodeCursor(req.pageToken, req, isChangeCursor) : undefined;
      const rows = await correctionChanges(db, parsed.correctionId, {
        limit: parsed.pageSize + 1,
        after: cursor && { sensorId: cursor.s, timeUs: cursor.t },
      });
      const more = rows.length > parsed.pageSize;
      const shown = more ? rows.slice(0, parsed.pageSize) : rows;
      const last = shown.at(-1);
      return {
        changes: shown.map(toChange),
        nextPageToken: more && last ? encodeCursor({ s: last.sensorId, t: last.before.timeUs }, req) : "",
      };
    },

    async getStats(req, ctx) {
      const nowMs = Date.now();
      const { filter, bucketMs } = parseStatsRequest(req, nowMs);
      const source = statsSource(filter, bucketMs, { nowMs });
      const rows = await readingStats(db, filter, bucketMs, { source, nowMs });
      let readings = 0;
      for (const r of rows) readings += Number(r.count);
      await deps.access.record(statsAccessEntry(ctx, filter, bucketMs, { buckets: rows.length, readings, source }));
      return {
        source: STATS_SOURCES[source],
        buckets: rows.map((r) =>
          create(StatsBucketSchema, {
            startTime: timestampFromMs(r.bucketStartMs),
            sensor: r.sensor,
            count: BigInt(r.count),
            min: r.min,
            max: r.max,
            avg: r.avg,
            p50: r.p50,
            p95: r.p95,
            p99: r.p99,
          }),
        ),
      };
    },

    async *watchReadings(req, ctx) {
      const { filter } = parseWatchRequest(req);
      const user = principalOf(ctx)?.userId;
      const release = deps.watches.acquire(String(user));
      if (!release) {
        throw new ConnectError(
          `at most ${deps.watches.perKey} WatchReadings may be open at once per user: close one first`,
          Code.ResourceExhausted,
        );
      }
      try {
        // On record before the first reading streams (reading-access.ts).
        await deps.access.record(watchAccessEntry(ctx, filter));
        // Site, kind and labels select devices by what they are when the watch starts.
        const byMetadata =
          filter.site !== undefined || filter.deviceKind !== undefined || filter.deviceLabels !== undefined;
        const devices = byMetadata ? await watchedDevices(db, filter) : undefined;
        yield* watchReadings(
          deps.bus,
          filter,
          ctx.signal,
          deps.watchBufferBatches,
          ctx.values.get(cutConnectionKey),
          devices,
        );
      } finally {
        release();
      }
    },
  };
}

/** "CODE-N" of every device the filter's device fields select. */
async function watchedDevices(db: Kysely<Database>, filter: ReadingFilter): Promise<Set<string>> {
  const rows = await db
    .selectFrom("devices")
    .select(["code", "number"])
    .where((eb) => eb.and(deviceConditions(filter)))
    .execute();
  return new Set(rows.map((r) => `${r.code}-${r.number}`));
}

/** Microseconds since the epoch (text) as a Timestamp. */
function timestampFromMicros(us: string) {
  const n = BigInt(us);
  const seconds = n / 1_000_000n - (n % 1_000_000n < 0n ? 1n : 0n);
  return { seconds, nanos: Number(n - seconds * 1_000_000n) * 1000 };
}

function toChange(row: ReadingChangeRow): ReadingChange {
  const version = (v: ReadingChangeRow["before"]) => ({
    sensor: v.sensor,
    time: timestampFromMicros(v.timeUs),
    value: v.value,
    deleted: v.deleted,
  });
  return create(ReadingChangeSchema, {
    correctionId: BigInt(row.correctionId),
    action: row.action,
    actor: row.actor,
    changeTime: timestampFromMs(row.at.getTime()),
    reason: row.reason,
    before: version(row.before),
    after: version(row.after),
    deviceCode: row.deviceCode,
    deviceNumber: row.deviceNumber,
  });
}

function toReading(row: ReadingRow, sources?: Map<number, ReadingProvenance>): Reading {
  const provenance = row.source_id === null ? undefined : sources?.get(row.source_id);
  return create(ReadingSchema, {
    deviceCode: row.device_code,
    deviceNumber: row.device_number,
    sensor: row.sensor,
    time: timestampFromMs(row.time.getTime()),
    value: row.value,
    seq: BigInt(row.seq),
    receivedAt: timestampFromMs(row.received_at.getTime()),
    updatedAt: row.updated_at ? timestampFromMs(row.updated_at.getTime()) : undefined,
    provenance,
  });
}
