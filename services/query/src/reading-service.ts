import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { Database, Kysely } from "@vigil/db";
import { type ListReadingsRequest, Order, type Reading, ReadingSchema, type ReadingService } from "@vigil/proto";
import { InvalidArgumentError } from "./errors.ts";
import { decodePageToken, encodePageToken } from "./page-token.ts";
import { parseReadingFilter } from "./reading-filter.ts";
import { countReadings, listReadings, type ReadingRow } from "./readings-repository.ts";

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

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
      const identity = tokenIdentity(req);
      const page = req.pageToken ? decodePageToken(req.pageToken, identity) : undefined;
      // Counted once, on the first page; later pages repeat it from the token.
      const total = page?.total ?? (await countReadings(deps.db, filter));
      const rows = await listReadings(deps.db, filter, { limit: pageSize + 1, newestFirst, after: page?.cursor });
      const more = rows.length > pageSize;
      const shown = more ? rows.slice(0, pageSize) : rows;
      const last = shown.at(-1);
      return {
        readings: shown.map(toReading),
        nextPageToken:
          more && last
            ? encodePageToken(
                identity,
                { timeMs: last.time.getTime(), deviceId: last.device_id, sensorId: last.sensor_id },
                total,
              )
            : "",
        totalSize: BigInt(total),
      };
    },
  };
}

function checkedPageSize(size: number): number {
  if (size === 0) return DEFAULT_PAGE_SIZE;
  if (size < 0 || size > MAX_PAGE_SIZE) {
    throw new InvalidArgumentError(
      "page_size",
      `must be between 0 and ${MAX_PAGE_SIZE} (0 means ${DEFAULT_PAGE_SIZE})`,
    );
  }
  return size;
}

/** What a page token is bound to: everything in the request but the token. */
function tokenIdentity(req: ListReadingsRequest) {
  const f = req.filter;
  return {
    filter: f && {
      c: f.deviceCode,
      n: f.deviceNumber,
      s: f.sensor,
      a: f.startTime && [String(f.startTime.seconds), f.startTime.nanos],
      b: f.endTime && [String(f.endTime.seconds), f.endTime.nanos],
    },
    order: req.order,
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
