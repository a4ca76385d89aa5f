import { readFileSync } from "node:fs";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Command } from "@commander-js/extra-typings";
import { type AuditEntry, AuditEntrySchema } from "@vigil/client";
import type { AuditChainHead } from "@vigil/db";
import type { Cli } from "../cli.ts";
import { integer, time } from "../flags.ts";
import { messageJson } from "../output.ts";
import { collectPages } from "../paging.ts";
import { CliError, UsageError } from "../usage-error.ts";

/** `vigil audit …`: the audit log over AuditService (scope audit:read, admins). */
export function auditCommand(cli: Cli) {
  const audit = new Command("audit").description(
    "who changed what (admins, over the API), and the hash chain's integrity (on the database)",
  );

  audit
    .command("list")
    .description("audit entries, newest first")
    .option("--actor <actor>", 'only this actor, such as "user:alice"')
    .option(
      "--action <action>",
      'only this action, such as "device_key.revoke"; "readings.*" for a family (reads: readings.list, readings.stats)',
    )
    .option("--from <time>", "entries at or after this ISO 8601 time", time)
    .option("--to <time>", "entries before this ISO 8601 time", time)
    .option("--limit <n>", "at most this many", integer(1, 100_000), 100)
    .action(async (o) => {
      const vigil = await cli.api();
      const out = await collectPages<AuditEntry>(o.limit, async (pageSize, pageToken) => {
        const page = await vigil.audit.listAuditLog(
          {
            actor: o.actor,
            action: o.action,
            startTime: o.from === undefined ? undefined : timestampFromMs(o.from),
            endTime: o.to === undefined ? undefined : timestampFromMs(o.to),
            pageSize,
            pageToken,
          },
          cli.call,
        );
        return [page.entries, page.nextPageToken];
      });
      cli.output.list(
        out.map((e) => messageJson(AuditEntrySchema, e)),
        ["id", "time", "actor", "action", "target", "rowsAffected"],
      );
    });

  audit
    .command("verify")
    .summary("walk the audit log's hash chain; exit 1 names the first bad entry")
    .description(
      "database-level (DATABASE_URL): walk the audit log's hash chain, recomputing every hash, and name the first entry that was edited, deleted or reordered (exit code 1). --heads: chain heads saved earlier (`vigil audit head` outputs, one JSON object per line, or a JSON array); --archive (or ARCHIVE_URL): also every head the lifecycle service exported there (audit-heads/), so a chain rewritten wholesale is caught too",
    )
    .option("--heads <file>", "chain heads saved earlier")
    .option("--archive <url>", "the cold archive with the lifecycle service's exported heads (default: ARCHIVE_URL)")
    .action(async (o) => {
      const env = cli.io.env;
      const heads: AuditChainHead[] = [];
      if (o.heads) heads.push(...headsFromFile(o.heads));
      const archiveUrl = o.archive ?? env.ARCHIVE_URL;
      if (archiveUrl) {
        const { openArchiveStore, readAuditHeads } = await import("@vigil/archive");
        const store = openArchiveStore(archiveUrl, {
          endpoint: env.ARCHIVE_S3_ENDPOINT || undefined,
          region: env.ARCHIVE_S3_REGION || undefined,
          forcePathStyle: env.ARCHIVE_S3_FORCE_PATH_STYLE === "true" || env.ARCHIVE_S3_FORCE_PATH_STYLE === "1",
        });
        heads.push(...(await readAuditHeads(store)));
      }
      const conflicting = conflictingHeads(heads);
      if (conflicting) throw new UsageError(conflicting);
      const database = await cli.database();
      const { verifyAuditChain } = await import("@vigil/db");
      const result = { ...(await verifyAuditChain(database.db, { heads })), headsChecked: heads.length };
      cli.output.object(result as unknown as Record<string, unknown>);
      if (!result.ok) throw new CliError(`audit chain broken: ${result.problem?.message}`);
    });

  audit
    .command("head")
    .description(
      "database-level (DATABASE_URL): print the chain's newest link {seq, hash, at}; keep it where the database's administrators cannot write",
    )
    .action(async () => {
      const database = await cli.database();
      const { auditChainHead } = await import("@vigil/db");
      cli.output.object((await auditChainHead(database.db)) as unknown as Record<string, unknown>);
    });

  return audit;
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

/** One saved head, checked: {seq, hash, at}. (As @vigil/archive's, without loading the archive's SDKs.) */
function parseAuditHead(text: string, where: string): AuditChainHead {
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
