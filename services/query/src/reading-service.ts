import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { ReadingBus } from "@vigil/bus";
import {
  type Database,
  type Kysely,
  readingStats,
  recordAudit,
  resolveSeriesIds,
  type StatsSource as Source,
  statsSource,
} from "@vigil/db";
import { type Reading, ReadingSchema, type ReadingService, StatsBucketSchema, StatsSource } from "@vigil/proto";
import { actorOf, cutConnectionKey, traceIdOf } from "./auth/principal.ts";
import { FailedPreconditionError } from "./errors.ts";
import { decodeCursor, encodeCursor, hasIntegers } from "./paging.ts";
import type { ReadingFilter } from "./reading-filter.ts";
import {
  parseDeleteRequest,
  parseListRequest,
  parseStatsRequest,
  parseUpdateRequest,
  parseWatchRequest,
} from "./reading-requests.ts";
import {
  countReadings,
  listReadings,
  type ReadingRow,
  sensorId,
  softDeleteReadings,
  updateReadings,
} from "./readings-repository.ts";
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
}

/** Where the next page starts (the sort key of the last row) and the total counted on the first page. */
interface ReadingCursor {
  t: number;
  d: number;
  s: number;
  n: number;
}

const isReadingCursor = (c: unknown): c is ReadingCursor => hasIntegers(c, "t", "d", "s", "n");

/** vigil.readings.v1.ReadingService over Connect, gRPC and gRPC-Web. */
export function readingService(deps: ReadingServiceDeps): ServiceImpl<typeof ReadingService> {
  const { db } = deps;
  return {
    async listReadings(req) {
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
      return {
        readings: shown.map(toReading),
        nextPageToken:
          more && last
            ? encodeCursor({ t: last.time.getTime(), d: last.device_id, s: last.sensor_id, n: total }, req)
            : "",
        totalSize: BigInt(total),
      };
    },

    async updateReadings(req, ctx) {
      const { filter, changes } = parseUpdateRequest(req);
      const updated = await db.transaction().execute(async (tx) => {
        const sensor = changes.sensor === undefined ? undefined : await sensorId(tx, changes.sensor);
        const count = await updateReadings(tx, filter, {
          sensorId: sensor,
          value: changes.value,
          timeMs: changes.timeMs,
        }).catch((err) => {
          if ((err as { code?: string }).code === "23505") {
            throw new FailedPreconditionError(
              "the changes would give two readings of the same device and sensor the same time: narrow the filter",
            );
          }
          throw err;
        });
        await recordAudit(tx, {
          actor: actorOf(ctx),
          action: "readings.update",
          details: { filter: auditFilter(filter), changes },
          rowsAffected: count,
          traceId: traceIdOf(ctx),
        });
        return count;
      });
      return { updatedCount: BigInt(updated) };
    },

    async deleteReadings(req, ctx) {
      const { filter } = parseDeleteRequest(req);
      const deleted = await db.transaction().execute(async (tx) => {
        const count = await softDeleteReadings(tx, filter);
        await recordAudit(tx, {
          actor: actorOf(ctx),
          action: "readings.delete",
          details: { filter: auditFilter(filter) },
          rowsAffected: count,
          traceId: traceIdOf(ctx),
        });
        return count;
      });
      return { deletedCount: BigInt(deleted) };
    },

    async getStats(req) {
      const nowMs = Date.now();
      const { filter, bucketMs } = parseStatsRequest(req, nowMs);
      const source = statsSource(filter, bucketMs, { nowMs });
      const rows = await readingStats(db, filter, bucketMs, { source, nowMs });
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
      yield* watchReadings(deps.bus, filter, ctx.signal, deps.watchBufferBatches, ctx.values.get(cutConnectionKey));
    },
  };
}

/** The filter as the audit log shows it: times as ISO strings. */
function auditFilter(filter: ReadingFilter) {
  return {
    ...filter,
    startMs: undefined,
    endMs: undefined,
    startTime: filter.startMs === undefined ? undefined : new Date(filter.startMs).toISOString(),
    endTime: filter.endMs === undefined ? undefined : new Date(filter.endMs).toISOString(),
  };
}

function toReading(row: ReadingRow): Reading {
  return create(ReadingSchema, {
    deviceCode: row.device_code,
    deviceNumber: row.device_number,
    sensor: row.sensor,
    time: timestampFromMs(row.time.getTime()),
    value: row.value,
    seq: BigInt(row.seq),
    receivedAt: timestampFromMs(row.received_at.getTime()),
    updatedAt: row.updated_at ? timestampFromMs(row.updated_at.getTime()) : undefined,
  });
}
