import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { openArchiveStore, parseAuditHead, readAuditHeads } from "@vigil/archive";
import {
  type AuditChainHead,
  type AuditVerification,
  auditChainHead,
  type VigilDatabase,
  verifyAuditChain,
} from "@vigil/db";
import { UsageError } from "../usage-error.ts";

export const AUDIT_USAGE = `vigil audit verify [--heads FILE] [--archive URL]
  Walks the audit log's hash chain and names the first entry that was edited, deleted
  or reordered; exit code 1 when one is found. --heads: chain heads saved earlier (a
  file of \`vigil audit head\` outputs, one JSON object per line or a JSON array);
  --archive (or ARCHIVE_URL): also every head the maintainer exported there
  (audit-heads/), so a chain rewritten wholesale is caught too.
vigil audit head
  Prints the chain's newest link {seq, hash, at}: keep it where the database's
  administrators cannot write.`;

/** What `vigil audit verify` prints: the verification plus how many exported heads it checked. */
export type AuditVerifyOutput = AuditVerification & { headsChecked: number };

/** `vigil audit …`: checks the audit log's integrity straight in the database (no API in between). */
export async function auditCommand(
  database: VigilDatabase,
  args: string[],
  env: Record<string, string | undefined>,
): Promise<AuditVerifyOutput | AuditChainHead> {
  const [action, ...rest] = args;
  if (action === "head") {
    if (rest.length > 0) throw new UsageError(`vigil audit head takes no arguments\n${AUDIT_USAGE}`);
    return auditChainHead(database.db);
  }
  if (action !== "verify") throw new UsageError(`unknown audit command ${action ?? "(none)"}\n${AUDIT_USAGE}`);
  let values: { heads?: string; archive?: string };
  try {
    ({ values } = parseArgs({
      args: rest,
      options: { heads: { type: "string" }, archive: { type: "string" } },
      strict: true,
    }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${AUDIT_USAGE}`);
  }
  const heads: AuditChainHead[] = [];
  if (values.heads) heads.push(...headsFromFile(values.heads));
  const archiveUrl = values.archive ?? env.ARCHIVE_URL;
  if (archiveUrl) {
    const store = openArchiveStore(archiveUrl, {
      endpoint: env.ARCHIVE_S3_ENDPOINT || undefined,
      region: env.ARCHIVE_S3_REGION || undefined,
      forcePathStyle: env.ARCHIVE_S3_FORCE_PATH_STYLE === "true" || env.ARCHIVE_S3_FORCE_PATH_STYLE === "1",
    });
    heads.push(...(await readAuditHeads(store)));
  }
  const conflicting = conflictingHeads(heads);
  if (conflicting) throw new UsageError(conflicting);
  return { ...(await verifyAuditChain(database.db, { heads })), headsChecked: heads.length };
}

/** Heads from a file: a JSON array, or one JSON object per line (appended `vigil audit head` outputs). */
function headsFromFile(path: string): AuditChainHead[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new UsageError(`cannot read --heads ${path}: ${(err as Error).message}`);
  }
  try {
    if (text.trimStart().startsWith("[")) {
      return (JSON.parse(text) as unknown[]).map((h, i) => parseAuditHead(JSON.stringify(h), `${path}[${i}]`));
    }
    return text
      .split("\n")
      .map((line, i) => [line.trim(), i + 1] as const)
      .filter(([line]) => line !== "")
      .map(([line, n]) => parseAuditHead(line, `${path}:${n}`));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** Two saved heads for one entry that disagree: the saved copies themselves were tampered with. */
function conflictingHeads(heads: AuditChainHead[]): string | undefined {
  const seen = new Map<number, string>();
  for (const h of heads) {
    const other = seen.get(h.seq);
    if (other !== undefined && other !== h.hash) return `two saved heads for entry ${h.seq} disagree`;
    seen.set(h.seq, h.hash);
  }
  return undefined;
}
