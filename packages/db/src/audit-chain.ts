import { createHash } from "node:crypto";
import { type Kysely, sql } from "kysely";
import type { Database } from "./schema.ts";

/**
 * The canonical encoding of an audit row that its hash covers: a JSON array
 * of (chain_seq, time in µs since the epoch, actor, action, target,
 * details, rows_affected, trace_id) as PostgreSQL's jsonb renders it (keys
 * of `details` sorted, one fixed spacing). The row's hash is
 * SHA-256(prev_hash ‖ UTF-8 of this text); the first row's prev_hash is 32
 * zero bytes. `r` names the row (NEW in the trigger).
 */
export function AUDIT_CANONICAL_SQL(r: string): string {
  return `jsonb_build_array(${r}.chain_seq, floor(extract(epoch FROM ${r}.at) * 1000000)::bigint, ${r}.actor, ${r}.action, ${r}.target, ${r}.details, ${r}.rows_affected, ${r}.trace_id)::text`;
}

/** prev_hash of the first entry. */
export const AUDIT_GENESIS_HASH_SQL = "'\\x0000000000000000000000000000000000000000000000000000000000000000'::bytea";
const GENESIS: Buffer = Buffer.alloc(32);

/** The newest link of the chain: export it somewhere the database's administrators cannot write. */
export interface AuditChainHead {
  /** chain_seq of the newest entry (0: no entry yet). */
  seq: number;
  /** Its hash, lower-case hex. */
  hash: string;
  /** When this head was read. */
  at: string;
}

/** What verification found: everything in order, or the first entry that is not. */
export interface AuditVerification {
  ok: boolean;
  /** Entries checked. */
  entries: number;
  head: { seq: number; hash: string };
  /** The first problem, in chain order. */
  problem?: {
    kind: "edited" | "deleted" | "reordered" | "truncated" | "head_mismatch";
    /** chain_seq of the entry concerned (for "deleted": the first missing one). */
    seq: number;
    /** audit_log.id of the entry, when one exists. */
    id?: number;
    message: string;
  };
}

interface ChainRow {
  id: number;
  chain_seq: number;
  prev_hash: Buffer;
  hash: Buffer;
  canonical: string;
}

const PAGE = 5_000;

/** The chain's head as the database records it now. */
export async function auditChainHead(db: Kysely<Database>): Promise<AuditChainHead> {
  const { rows } = await sql<{ seq: number; hash: Buffer }>`SELECT seq, hash FROM audit_chain_head`.execute(db);
  const row = rows[0];
  return {
    seq: Number(row?.seq ?? 0),
    hash: Buffer.from(row?.hash ?? GENESIS).toString("hex"),
    at: new Date().toISOString(),
  };
}

/**
 * Walks the audit chain in order, recomputing every hash from the row's
 * current contents (here, not with the database's trigger function), and
 * names the first entry that was edited, deleted or moved. `heads` are
 * chain heads exported earlier (archive runs): each must still be in the
 * chain, so rewriting the whole chain from some point on is caught too.
 */
export async function verifyAuditChain(
  db: Kysely<Database>,
  options: { heads?: Array<Pick<AuditChainHead, "seq" | "hash">> } = {},
): Promise<AuditVerification> {
  const heads = new Map<number, string>();
  for (const h of options.heads ?? []) heads.set(h.seq, h.hash.toLowerCase());
  let expectedSeq = 1;
  let prev = GENESIS;
  let entries = 0;
  let after = 0;
  const fail = (problem: NonNullable<AuditVerification["problem"]>): AuditVerification => ({
    ok: false,
    entries,
    head: { seq: expectedSeq - 1, hash: prev.toString("hex") },
    problem,
  });
  for (;;) {
    const { rows } = await sql<ChainRow>`
      SELECT id, chain_seq, prev_hash, hash, ${sql.raw(AUDIT_CANONICAL_SQL("a"))} AS canonical
      FROM audit_log a WHERE chain_seq > ${after} ORDER BY chain_seq LIMIT ${PAGE}`.execute(db);
    for (const raw of rows) {
      // The embedded engine returns bytea as a Uint8Array.
      const row = { ...raw, prev_hash: Buffer.from(raw.prev_hash), hash: Buffer.from(raw.hash) };
      const seq = Number(row.chain_seq);
      if (seq !== expectedSeq) {
        return fail({
          kind: "deleted",
          seq: expectedSeq,
          message: `entry ${expectedSeq} is missing (deleted): the chain jumps from ${expectedSeq - 1} to ${seq}`,
        });
      }
      const computed = createHash("sha256").update(row.prev_hash).update(row.canonical, "utf8").digest();
      if (!computed.equals(row.hash)) {
        return fail({
          kind: "edited",
          seq,
          id: Number(row.id),
          message: `entry ${seq} (id ${row.id}) was edited: its contents no longer match its hash`,
        });
      }
      if (!row.prev_hash.equals(prev)) {
        return fail({
          kind: "reordered",
          seq,
          id: Number(row.id),
          message: `entry ${seq} (id ${row.id}) does not follow entry ${seq - 1}: entries were reordered or replaced`,
        });
      }
      const exported = heads.get(seq);
      if (exported !== undefined && exported !== row.hash.toString("hex")) {
        return fail({
          kind: "head_mismatch",
          seq,
          id: Number(row.id),
          message: `entry ${seq} (id ${row.id}) differs from the chain head exported for it: the chain was rewritten from there on`,
        });
      }
      heads.delete(seq);
      prev = row.hash;
      expectedSeq = seq + 1;
      entries++;
    }
    if (rows.length < PAGE) break;
    after = Number(rows[rows.length - 1]!.chain_seq);
  }
  const recorded = await auditChainHead(db);
  if (recorded.seq !== expectedSeq - 1 || recorded.hash !== prev.toString("hex")) {
    return fail({
      kind: "truncated",
      seq: expectedSeq,
      message: `the newest entries were deleted: the chain ends at ${expectedSeq - 1}, its recorded head is ${recorded.seq}`,
    });
  }
  const missing = [...heads.keys()].sort((a, b) => a - b)[0];
  if (missing !== undefined) {
    return fail({
      kind: "truncated",
      seq: missing,
      message: `an exported chain head names entry ${missing}, which is no longer in the chain (ends at ${expectedSeq - 1})`,
    });
  }
  return { ok: true, entries, head: { seq: expectedSeq - 1, hash: prev.toString("hex") } };
}
