import { type Database, type Kysely, sql } from "@vigil/db";
import type { Violation } from "./validate-batch.ts";

/** A batch Vigil refused (receiver) or could not store (writer). */
export interface DeadLetterInput {
  /** Null when the sender could not be identified. */
  deviceId: number | null;
  seq: number | null;
  source: "receiver" | "writer";
  /** RejectCode name for receiver rejects. */
  code?: string;
  reason: string;
  violations?: Violation[];
  payload: Uint8Array | null;
}

/** What one device may put into dead_letters (receiver rejects only: a writer's dead letter is acked data). */
export interface DeadLetterBounds {
  /** Payload bytes kept; the rest is cut (and the letter can no longer be replayed). */
  maxPayloadBytes: number;
  /** Receiver dead letters one device may add per 24 hours; beyond it they are not stored. */
  perDevicePerDay: number;
}

export interface DeadLetterRow {
  id: number;
  device: string;
  deviceId: number | null;
  seq: number | null;
  source: string;
  code: string;
  reason: string;
  violations: Violation[];
  createdAt: Date;
  replayedAt: Date | null;
  /** The batch as stored: null in listings (only getDeadLetter reads it). */
  payload: Buffer | null;
  /** Size of the batch as it arrived. */
  payloadBytes: number;
  /** True when only the first part of the batch was kept. */
  payloadTruncated: boolean;
}

/**
 * Keeps a refused batch with its reason. An unknown device id is stored as
 * null. With bounds (receiver rejects), the payload is cut to
 * `maxPayloadBytes` and nothing is stored once the device has
 * `perDevicePerDay` receiver dead letters from the last 24 hours (counted
 * through the (device_id, created_at) index, at most that many entries).
 * Returns whether a row was stored.
 */
export async function recordDeadLetter(
  db: Kysely<Database>,
  input: DeadLetterInput,
  bounds?: DeadLetterBounds,
): Promise<boolean> {
  const payload = input.payload
    ? Buffer.from(input.payload.buffer, input.payload.byteOffset, input.payload.length)
    : null;
  const kept =
    payload && bounds && payload.length > bounds.maxPayloadBytes
      ? payload.subarray(0, bounds.maxPayloadBytes)
      : payload;
  const quota = bounds && input.deviceId !== null ? bounds.perDevicePerDay : null;
  const insert = (tx: Kysely<Database>) =>
    sql`
    INSERT INTO dead_letters (device_id, seq, source, code, reason, violations, payload, payload_bytes)
    SELECT (SELECT id FROM devices WHERE id = ${input.deviceId}), ${input.seq}, ${input.source}, ${input.code ?? ""},
           ${input.reason}, ${JSON.stringify(input.violations ?? [])}::jsonb, ${kept}::bytea, ${payload?.length ?? null}::int
    WHERE ${quota}::int IS NULL OR (
      SELECT count(*) FROM (
        SELECT 1 FROM dead_letters
        WHERE device_id = ${input.deviceId} AND source = 'receiver' AND created_at > now() - interval '1 day'
        LIMIT ${quota}::int) AS recent) < ${quota}::int`.execute(tx);
  const result =
    quota === null
      ? await insert(db)
      : await db.transaction().execute(async (tx) => {
          // "VIGD": one device's dead letters one at a time, so concurrent rejects cannot both pass the quota.
          await sql`SELECT pg_advisory_xact_lock(${0x56494744}, ${input.deviceId})`.execute(tx);
          return insert(tx);
        });
  return Number(result.numAffectedRows ?? 0) > 0;
}

export interface DeadLetterFilter {
  deviceCode?: string;
  deviceNumber?: number;
  source?: string;
  includeReplayed: boolean;
  limit: number;
  /** Continue below this id (newest first). */
  beforeId?: number;
}

function deadLetters(db: Kysely<Database>, withPayload: boolean) {
  return db
    .selectFrom("dead_letters as l")
    .leftJoin("devices as d", "d.id", "l.device_id")
    .select((eb) => [
      withPayload ? "l.payload" : sql<Buffer | null>`NULL::bytea`.as("payload"),
      eb.fn.coalesce("l.payload_bytes", sql<number>`octet_length(l.payload)`, sql<number>`0`).as("payload_bytes"),
      sql<number>`coalesce(octet_length(l.payload), 0)`.as("stored_bytes"),
    ])
    .select([
      "l.id",
      "l.device_id",
      "l.seq",
      "l.source",
      "l.code",
      "l.reason",
      "l.violations",
      "l.created_at",
      "l.replayed_at",
      "d.code as device_code",
      "d.number as device_number",
    ]);
}

/** Dead letters, newest first. */
export async function listDeadLetters(db: Kysely<Database>, filter: DeadLetterFilter): Promise<DeadLetterRow[]> {
  let q = deadLetters(db, false);
  if (filter.deviceCode !== undefined) q = q.where("d.code", "=", filter.deviceCode);
  if (filter.deviceNumber !== undefined) q = q.where("d.number", "=", filter.deviceNumber);
  if (filter.source !== undefined) q = q.where("l.source", "=", filter.source);
  if (!filter.includeReplayed) q = q.where("l.replayed_at", "is", null);
  if (filter.beforeId !== undefined) q = q.where("l.id", "<", filter.beforeId);
  const rows = await q.orderBy("l.id", "desc").limit(filter.limit).execute();
  return rows.map(toRow);
}

export async function getDeadLetter(db: Kysely<Database>, id: number): Promise<DeadLetterRow | undefined> {
  const row = await deadLetters(db, true).where("l.id", "=", id).executeTakeFirst();
  return row && toRow(row);
}

export async function markReplayed(db: Kysely<Database>, id: number): Promise<void> {
  await db.updateTable("dead_letters").set({ replayed_at: sql<Date>`now()` }).where("id", "=", id).execute();
}

function toRow(r: {
  id: number;
  device_id: number | null;
  seq: number | null;
  source: string;
  code: string;
  reason: string;
  violations: unknown;
  created_at: Date;
  replayed_at: Date | null;
  payload: Buffer | null;
  payload_bytes: number;
  stored_bytes: number;
  device_code: string | null;
  device_number: number | null;
}): DeadLetterRow {
  return {
    id: Number(r.id),
    device: r.device_code ? `${r.device_code}-${r.device_number}` : "",
    deviceId: r.device_id,
    seq: r.seq === null ? null : Number(r.seq),
    source: r.source,
    code: r.code,
    reason: r.reason,
    violations: Array.isArray(r.violations) ? (r.violations as Violation[]) : [],
    createdAt: r.created_at,
    replayedAt: r.replayed_at,
    payload: r.payload,
    payloadBytes: Number(r.payload_bytes),
    payloadTruncated: Number(r.payload_bytes) > Number(r.stored_bytes),
  };
}
