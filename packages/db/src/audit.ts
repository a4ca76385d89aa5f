import { type Kysely, sql } from "kysely";
import type { Database } from "./schema.ts";

/** One entry of the audit log: who did what to which data. */
export interface AuditEntry {
  /** A user, or a process such as "maintainer" or "cli". */
  actor: string;
  /** Dotted verb, e.g. "readings.archive", "readings.restore". */
  action: string;
  /** What was acted on, e.g. "readings [2025-01-03T00:00:00Z, 2025-01-04T00:00:00Z)". */
  target: string;
  details?: Record<string, unknown>;
  rowsAffected?: number;
  traceId?: string;
}

/**
 * Appends to `audit_log` (created by migration 0003, or by 0004 if that ran
 * first). Pass the transaction that made the change, so the record commits
 * with it or not at all.
 */
export async function recordAudit(db: Kysely<Database>, entry: AuditEntry): Promise<void> {
  await sql`
    INSERT INTO audit_log (at, actor, action, target, details, rows_affected, trace_id)
    VALUES (now(), ${entry.actor}, ${entry.action}, ${entry.target}, ${JSON.stringify(entry.details ?? {})}::jsonb,
            ${entry.rowsAffected ?? null}, ${entry.traceId ?? null})`.execute(db);
}
