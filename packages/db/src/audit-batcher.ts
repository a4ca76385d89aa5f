import type { Kysely } from "kysely";
import { type AuditEntry, auditRow } from "./audit.ts";
import type { Database } from "./schema.ts";

export interface AuditBatcherOptions {
  /** Entries waiting to be written before record() waits for room (backpressure, never a drop). */
  maxPending: number;
  /** Most entries one INSERT writes. */
  maxBatch: number;
}

interface Waiting {
  entry: AuditEntry;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit for the audit log. Every append extends the hash chain under
 * one lock (the chain head's row), so an INSERT per request would queue
 * busy readers behind each other. Here entries that arrive while a write is
 * running are written together by the next one: one statement, one lock,
 * however many requests. record() resolves only once its entry is
 * committed, so a caller that waits for it (a read of readings) answers
 * only what is on record: a crash loses no entry of an answered request.
 *
 * Bounded: beyond `maxPending` waiting entries record() waits for room, so
 * a database that cannot keep up slows callers down instead of growing
 * memory or dropping entries. A batch the database refuses is written entry
 * by entry, so only an entry it refuses on its own fails (and its caller);
 * when the database is down each entry fails and its caller with it.
 */
export class AuditBatcher {
  private readonly db: Kysely<Database>;
  private readonly options: AuditBatcherOptions;
  private queue: Waiting[] = [];
  private readonly room: Array<() => void> = [];
  private writing: Promise<void> | undefined;
  private closed = false;

  constructor(db: Kysely<Database>, options: AuditBatcherOptions) {
    this.db = db;
    this.options = options;
  }

  /** Appends an entry; resolves once it is committed with its batch. */
  async record(entry: AuditEntry): Promise<void> {
    const { committed } = await this.admit(entry);
    return committed;
  }

  /**
   * Appends an entry without waiting for its COMMIT: resolves once it is
   * queued (after waiting for room, as record() does). A failed write goes
   * to `onError`. What a crash loses: the entries queued and not yet written.
   */
  async enqueue(entry: AuditEntry, onError: (err: unknown) => void): Promise<void> {
    const { committed } = await this.admit(entry);
    committed.catch(onError);
  }

  /** Queues an entry once there is room; `committed` settles with its batch's write. */
  private async admit(entry: AuditEntry): Promise<{ committed: Promise<void> }> {
    while (this.queue.length >= this.options.maxPending && !this.closed) {
      await new Promise<void>((resolve) => this.room.push(resolve));
    }
    if (this.closed) throw new Error("the audit log is closed (shutting down)");
    const committed = new Promise<void>((resolve, reject) => this.queue.push({ entry, resolve, reject }));
    this.writing ??= this.writeAll();
    return { committed };
  }

  /** Entries waiting to be written (a gauge). */
  get pending(): number {
    return this.queue.length;
  }

  /** Writes everything waiting, then refuses new entries. */
  async close(): Promise<void> {
    this.closed = true;
    for (const wake of this.room.splice(0)) wake();
    await this.writing;
  }

  private async insert(batch: Waiting[]): Promise<void> {
    await this.db
      .insertInto("audit_log")
      .values(batch.map(({ entry }) => auditRow(entry)))
      .execute();
  }

  private async writeAll(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.options.maxBatch);
        for (const wake of this.room.splice(0, batch.length)) wake();
        try {
          await this.insert(batch);
          for (const w of batch) w.resolve();
        } catch (err) {
          if (batch.length === 1) {
            batch[0]!.reject(err);
            continue;
          }
          // One entry the database refuses (a value it cannot store) must not fail the others:
          // each is tried alone.
          for (const w of batch) {
            try {
              await this.insert([w]);
              w.resolve();
            } catch (alone) {
              w.reject(alone);
            }
          }
        }
      }
    } finally {
      this.writing = undefined;
    }
  }
}
