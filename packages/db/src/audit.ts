import type { Kysely } from "kysely";
import type { Database } from "./schema.ts";

export interface AuditEntry {
  /** Who: "user:<name>", "cli:<os user>", "system:<service>". */
  actor: string;
  /** What, as "<noun>.<verb>": "device.create", "device_key.revoke", "readings.update". */
  action: string;
  /** Which object: "device:OR-7", "key:<prefix>". */
  target?: string;
  /** The request: filters, changes, settings. Never secrets. */
  details?: Record<string, unknown>;
  rowsAffected?: number;
  traceId?: string;
}

/** Appends one row to audit_log, in the caller's transaction when given one. */
export async function recordAudit(db: Kysely<Database>, entry: AuditEntry): Promise<void> {
  await db.insertInto("audit_log").values(auditRow(entry)).execute();
}

/** An entry as the audit_log row that records it (the chain's hash columns are the table's trigger's). */
export function auditRow(entry: AuditEntry) {
  return {
    actor: entry.actor,
    action: entry.action,
    target: entry.target ?? "",
    details: JSON.stringify(entry.details ?? {}),
    rows_affected: entry.rowsAffected ?? null,
    trace_id: entry.traceId ?? null,
  };
}
