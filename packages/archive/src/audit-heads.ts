import { type AuditChainHead, auditChainHead, type Database, type Kysely } from "@vigil/db";
import type { ArchiveStore } from "./archive-store.ts";

/** Where exported audit chain heads live in the archive: one object per UTC day. */
export const AUDIT_HEADS_PREFIX = "audit-heads/";

/**
 * Writes the audit chain's head to the archive once per UTC day (the first
 * maintenance run of the day), as `audit-heads/<YYYY-MM-DD>.json`. The
 * archive is outside the database's reach (another system, often another
 * team's bucket with object lock), so someone who rewrites the whole chain
 * and its recorded head in the database still cannot make it match a head
 * exported before: `vigil audit verify --archive` checks every one.
 * Returns the head written, or undefined when today's was already there.
 */
export async function exportAuditHead(
  db: Kysely<Database>,
  store: ArchiveStore,
  nowMs: number,
): Promise<AuditChainHead | undefined> {
  const key = `${AUDIT_HEADS_PREFIX}${new Date(nowMs).toISOString().slice(0, 10)}.json`;
  if ((await store.getText(key)) !== undefined) return undefined;
  const head = await auditChainHead(db);
  await store.putText(key, `${JSON.stringify(head)}\n`);
  return head;
}

/** Every head exported to the archive, oldest first. */
export async function readAuditHeads(store: ArchiveStore): Promise<AuditChainHead[]> {
  const heads: AuditChainHead[] = [];
  for (const key of await store.list(AUDIT_HEADS_PREFIX)) {
    if (!key.endsWith(".json")) continue;
    const text = await store.getText(key);
    if (text !== undefined) heads.push(parseAuditHead(text, key));
  }
  return heads;
}

/** One exported head, checked: {seq, hash, at}. */
export function parseAuditHead(text: string, where: string): AuditChainHead {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`${where}: not JSON`);
  }
  const h = value as Partial<AuditChainHead>;
  if (
    !Number.isSafeInteger(h.seq) ||
    (h.seq as number) < 0 ||
    typeof h.hash !== "string" ||
    !/^[0-9a-f]{64}$/i.test(h.hash)
  ) {
    throw new Error(`${where}: not an audit chain head ({"seq": n, "hash": "<64 hex>"})`);
  }
  return { seq: h.seq as number, hash: h.hash.toLowerCase(), at: typeof h.at === "string" ? h.at : "" };
}
