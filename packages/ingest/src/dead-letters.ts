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
  payload: Buffer | null;
}

/** Keeps a refused batch with its reason. An unknown device id is stored as null. */
export async function recordDeadLetter(db: Kysely<Database>, input: DeadLetterInput): Promise<void> {
  await sql`
    INSERT INTO dead_letters (device_id, seq, source, code, reason, violations, payload)
    VALUES ((SELECT id FROM devices WHERE id = ${input.deviceId}), ${input.seq}, ${input.source}, ${input.code ?? ""},
            ${input.reason}, ${JSON.stringify(input.violations ?? [])}::jsonb,
            ${input.payload ? Buffer.from(input.payload) : null})`.execute(db);
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

function deadLetters(db: Kysely<Database>) {
  return db
    .selectFrom("dead_letters as l")
    .leftJoin("devices as d", "d.id", "l.device_id")
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
      "l.payload",
      "d.code as device_code",
      "d.number as device_number",
    ]);
}

/** Dead letters, newest first. */
export async function listDeadLetters(db: Kysely<Database>, filter: DeadLetterFilter): Promise<DeadLetterRow[]> {
  let q = deadLetters(db);
  if (filter.deviceCode !== undefined) q = q.where("d.code", "=", filter.deviceCode);
  if (filter.deviceNumber !== undefined) q = q.where("d.number", "=", filter.deviceNumber);
  if (filter.source !== undefined) q = q.where("l.source", "=", filter.source);
  if (!filter.includeReplayed) q = q.where("l.replayed_at", "is", null);
  if (filter.beforeId !== undefined) q = q.where("l.id", "<", filter.beforeId);
  const rows = await q.orderBy("l.id", "desc").limit(filter.limit).execute();
  return rows.map(toRow);
}

export async function getDeadLetter(db: Kysely<Database>, id: number): Promise<DeadLetterRow | undefined> {
  const row = await deadLetters(db).where("l.id", "=", id).executeTakeFirst();
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
  };
}
