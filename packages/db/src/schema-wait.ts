import { type Kysely, sql } from "kysely";
import type { Database } from "./schema.ts";

/** What keeps a component's tables from being usable yet. */
export interface SchemaGaps {
  /** Tables that do not exist (the migrations have not run). */
  missing: string[];
  /** Tables that exist but this role holds no privilege on (the grants follow the migrations). */
  notGranted: string[];
}

/**
 * Which of `tables` are missing, or present without any privilege for the
 * signed-in role, in the connection's search path. Names are bound as
 * parameters, never spliced into the SQL.
 */
export async function schemaGaps(db: Kysely<Database>, tables: readonly string[]): Promise<SchemaGaps> {
  if (tables.length > 200) throw new Error("schemaGaps: at most 200 tables");
  const { rows } = await sql<{ name: string; present: boolean; usable: boolean }>`
    SELECT t.name,
           c.oid IS NOT NULL AS present,
           c.oid IS NOT NULL AND (has_table_privilege(c.oid, 'SELECT,INSERT,UPDATE,DELETE')
                                  OR has_any_column_privilege(c.oid, 'SELECT,INSERT,UPDATE')) AS usable
    FROM unnest(${[...tables]}::text[]) AS t(name)
    LEFT JOIN LATERAL (SELECT to_regclass(quote_ident(t.name)) AS oid) c ON true`.execute(db);
  return {
    missing: rows.filter((r) => !r.present).map((r) => r.name),
    notGranted: rows.filter((r) => r.present && !r.usable).map((r) => r.name),
  };
}

export interface SchemaWaitOptions {
  /** Who waits, for the log line ("alerter"). */
  component: string;
  /** The tables the component reads or writes. */
  tables: readonly string[];
  log: {
    info(fields: Record<string, unknown>, message: string): void;
    warn(fields: Record<string, unknown>, message: string): void;
  };
  /** Stops waiting (the process is shutting down). */
  signal?: AbortSignal;
  /** First pause between checks; doubles up to maxDelayMs. */
  initialDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * Waits until the database answers and the component's tables exist and are
 * granted to it, checking again with capped exponential backoff and saying
 * on each check what it still waits for. A component started before its
 * migrations (the chart's bundled database is migrated by a Job that runs
 * beside the pods) stays up and not ready instead of crashing. Returns
 * true once the schema is there, false when `signal` aborted the wait.
 */
export async function waitForSchema(db: Kysely<Database>, options: SchemaWaitOptions): Promise<boolean> {
  const { component, tables, log, signal } = options;
  const maxDelayMs = options.maxDelayMs ?? 15_000;
  let delayMs = options.initialDelayMs ?? 500;
  const started = performance.now();
  let waited = false;
  while (!signal?.aborted) {
    let fields: Record<string, unknown>;
    let message: string;
    try {
      const gaps = await schemaGaps(db, tables);
      if (gaps.missing.length === 0 && gaps.notGranted.length === 0) {
        if (waited) {
          const waitedS = Math.round((performance.now() - started) / 100) / 10;
          log.info({ component, waitedS }, "database schema present: starting");
        }
        return true;
      }
      fields = { missing: gaps.missing, notGranted: gaps.notGranted };
      message =
        gaps.missing.length > 0
          ? `waiting for the database schema: the ${component} needs tables that do not exist yet (run the migrations: vigil migrate, or the chart's migrations Job)`
          : `waiting for the database schema: the ${component}'s role has no privileges on its tables yet (the migrations grant them)`;
    } catch (err) {
      // Not up yet, or our role does not exist yet: the message names which, never the URL.
      fields = { reason: err instanceof Error ? err.message : String(err) };
      message = `waiting for the database: the ${component} cannot check its tables`;
    }
    waited = true;
    // ±20 % so replicas started together do not check in step.
    const pause = Math.round(delayMs * (0.8 + Math.random() * 0.4));
    log.warn({ component, ...fields, retryInMs: pause }, message);
    await abortableSleep(pause, signal);
    delayMs = Math.min(maxDelayMs, delayMs * 2);
  }
  return false;
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
