import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Command } from "@commander-js/extra-typings";
import { type AuditEntry, AuditEntrySchema } from "@vigil/client";
import type { Cli } from "../cli.ts";
import { integer, time } from "../flags.ts";
import { messageJson } from "../output.ts";

/** `vigil audit …`: the audit log over AuditService (scope audit:read, admins). */
export function auditCommand(cli: Cli) {
  const audit = new Command("audit").description("who changed what (admins)");

  audit
    .command("list")
    .description("audit entries, newest first")
    .option("--actor <actor>", 'only this actor, such as "user:alice"')
    .option("--action <action>", 'only this action, such as "device_key.revoke"')
    .option("--from <time>", "entries at or after this ISO 8601 time", time)
    .option("--to <time>", "entries before this ISO 8601 time", time)
    .option("--limit <n>", "at most this many", integer(1, 100_000), 100)
    .action(async (o) => {
      const vigil = await cli.api();
      const out: AuditEntry[] = [];
      let pageToken = "";
      do {
        const page = await vigil.audit.listAuditLog(
          {
            actor: o.actor,
            action: o.action,
            startTime: o.from === undefined ? undefined : timestampFromMs(o.from),
            endTime: o.to === undefined ? undefined : timestampFromMs(o.to),
            pageSize: Math.min(1000, o.limit - out.length),
            pageToken,
          },
          cli.call,
        );
        out.push(...page.entries);
        pageToken = page.nextPageToken;
      } while (pageToken && out.length < o.limit);
      cli.output.list(
        out.slice(0, o.limit).map((e) => messageJson(AuditEntrySchema, e)),
        ["id", "time", "actor", "action", "target", "rowsAffected"],
      );
    });

  return audit;
}
