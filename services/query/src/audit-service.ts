import { create, type JsonObject } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { type Database, type Kysely, sql } from "@vigil/db";
import { AuditEntrySchema, type AuditService, ReadingFilterSchema } from "@vigil/proto";
import { checkedPageSize, decodeCursor, encodeCursor, hasIntegers } from "./paging.ts";
import { parseReadingFilter } from "./reading-filter.ts";

const isIdCursor = (c: unknown): c is { id: number } => hasIntegers(c, "id");

/** vigil.audit.v1.AuditService: who changed what, newest first. */
export function auditService(deps: { db: Kysely<Database> }): ServiceImpl<typeof AuditService> {
  return {
    async listAuditLog(req) {
      const limit = checkedPageSize(req.pageSize);
      // Same time-range rules (and messages) as reading filters.
      const range = parseReadingFilter(create(ReadingFilterSchema, { startTime: req.startTime, endTime: req.endTime }));
      const after = req.pageToken ? decodeCursor(req.pageToken, req, isIdCursor) : undefined;
      let q = deps.db.selectFrom("audit_log").selectAll();
      if (req.actor) q = q.where("actor", "=", req.actor);
      if (req.action.endsWith(".*")) {
        // A family of actions: "readings.*" is every read and change of readings.
        const prefix = req.action.slice(0, -1);
        q = q.where(sql<boolean>`starts_with(action, ${prefix})`);
      } else if (req.action) q = q.where("action", "=", req.action);
      if (range.startMs !== undefined) q = q.where("at", ">=", new Date(range.startMs));
      if (range.endMs !== undefined) q = q.where("at", "<", new Date(range.endMs));
      if (after) q = q.where("id", "<", after.id);
      const rows = await q
        .orderBy("id", "desc")
        .limit(limit + 1)
        .execute();
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        entries: page.map((r) =>
          create(AuditEntrySchema, {
            id: BigInt(r.id),
            time: timestampFromMs(r.at.getTime()),
            actor: r.actor,
            action: r.action,
            target: r.target,
            details: (r.details ?? {}) as JsonObject,
            rowsAffected: r.rows_affected === null ? undefined : BigInt(r.rows_affected),
            traceId: r.trace_id ?? "",
          }),
        ),
        nextPageToken: rows.length > limit && last ? encodeCursor({ id: Number(last.id) }, req) : "",
      };
    },
  };
}
