import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { ReadingBus } from "@vigil/bus";
import type { Database, Kysely } from "@vigil/db";
import { DEVICE_CODE_PATTERN, MAX_DEVICE_NUMBER } from "@vigil/devices";
import { type BatchLimits, type DeadLetterRow, listDeadLetters, replayDeadLetter } from "@vigil/ingest";
import { type DeadLetter, DeadLetterSchema, type DeadLetterService } from "@vigil/proto";
import { InvalidArgumentError } from "./errors.ts";
import { checkedPageSize, decodeCursor, encodeCursor, hasIntegers } from "./paging.ts";

export interface DeadLetterServiceDeps {
  db: Kysely<Database>;
  bus: ReadingBus;
  /** The current reading rules a replay must pass. */
  limits: BatchLimits;
  actor: (ctx: HandlerContext) => string;
}

const isIdCursor = (c: unknown): c is { id: number } => hasIntegers(c, "id");

/** vigil.ingest.v1.DeadLetterService: inspect and replay refused batches. */
export function deadLetterService(deps: DeadLetterServiceDeps): ServiceImpl<typeof DeadLetterService> {
  return {
    async listDeadLetters(req) {
      if (req.source !== "" && req.source !== "receiver" && req.source !== "writer") {
        throw new InvalidArgumentError("source", 'must be "receiver", "writer" or empty');
      }
      if (req.deviceCode !== "" && !DEVICE_CODE_PATTERN.test(req.deviceCode)) {
        throw new InvalidArgumentError("device_code", "must be 1 to 16 capital letters");
      }
      if (req.deviceNumber !== undefined && (req.deviceNumber < 1 || req.deviceNumber > MAX_DEVICE_NUMBER)) {
        throw new InvalidArgumentError("device_number", `must be from 1 to ${MAX_DEVICE_NUMBER}`);
      }
      const limit = checkedPageSize(req.pageSize);
      const after = req.pageToken ? decodeCursor(req.pageToken, req, isIdCursor) : undefined;
      const rows = await listDeadLetters(deps.db, {
        deviceCode: req.deviceCode || undefined,
        deviceNumber: req.deviceNumber,
        source: req.source || undefined,
        includeReplayed: req.includeReplayed,
        limit: limit + 1,
        beforeId: after?.id,
      });
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        deadLetters: page.map(toDeadLetter),
        nextPageToken: rows.length > limit && last ? encodeCursor({ id: last.id }, req) : "",
      };
    },
    async replayDeadLetter(req, ctx) {
      if (req.id <= 0n) throw new InvalidArgumentError("id", "is required");
      const { deadLetter, readings } = await replayDeadLetter(
        { db: deps.db, bus: deps.bus, limits: deps.limits, actor: deps.actor(ctx) },
        Number(req.id),
      );
      return { deadLetter: toDeadLetter(deadLetter), readings };
    },
  };
}

function toDeadLetter(r: DeadLetterRow): DeadLetter {
  return create(DeadLetterSchema, {
    id: BigInt(r.id),
    device: r.device,
    seq: BigInt(r.seq ?? 0),
    source: r.source,
    code: r.code,
    reason: r.reason,
    violations: r.violations,
    createTime: timestampFromMs(r.createdAt.getTime()),
    replayTime: r.replayedAt ? timestampFromMs(r.replayedAt.getTime()) : undefined,
    payloadBytes: r.payloadBytes,
    payloadTruncated: r.payloadTruncated,
  });
}
