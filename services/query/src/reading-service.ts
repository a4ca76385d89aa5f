import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { Database, Kysely } from "@vigil/db";
import { Order, type Reading, ReadingSchema, type ReadingService } from "@vigil/proto";
import { checkedPageSize, decodeCursor, encodeCursor, hasIntegers } from "./paging.ts";
import { parseReadingFilter } from "./reading-filter.ts";
import { countReadings, listReadings, type ReadingRow } from "./readings-repository.ts";

/** Where the next page starts (the sort key of the last row) and the total counted on the first page. */
interface ReadingCursor {
  t: number;
  d: number;
  s: number;
  n: number;
}

const isReadingCursor = (c: unknown): c is ReadingCursor => hasIntegers(c, "t", "d", "s", "n");

export interface ReadingServiceDeps {
  db: Kysely<Database>;
}

/**
 * vigil.readings.v1.ReadingService over Connect, gRPC and gRPC-Web. Methods
 * not implemented here answer Unimplemented.
 */
export function readingService(deps: ReadingServiceDeps): Partial<ServiceImpl<typeof ReadingService>> {
  return {
    async listReadings(req) {
      const pageSize = checkedPageSize(req.pageSize);
      const filter = parseReadingFilter(req.filter);
      const newestFirst = req.order === Order.NEWEST_FIRST;
      const cursor = req.pageToken ? decodeCursor(req.pageToken, req, isReadingCursor) : undefined;
      // Counted once, on the first page; later pages repeat it from the token.
      const total = cursor?.n ?? (await countReadings(deps.db, filter));
      const after = cursor && { timeMs: cursor.t, deviceId: cursor.d, sensorId: cursor.s };
      const rows = await listReadings(deps.db, filter, { limit: pageSize + 1, newestFirst, after });
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
