import { Command, Option } from "@commander-js/extra-typings";
import { type DeadLetter, DeadLetterSchema, ReplayDeadLetterResponseSchema } from "@vigil/client";
import type { Cli } from "../cli.ts";
import { integer } from "../flags.ts";
import { messageJson } from "../output.ts";
import { collectPages } from "../paging.ts";

/** `vigil dead-letters …`: DeadLetterService (admins: scope devices:admin). */
export function deadLettersCommand(cli: Cli) {
  const deadLetters = new Command("dead-letters").description("batches Vigil refused or could not store (admins)");

  deadLetters
    .command("list")
    .description("dead letters, newest first (replayed ones only with --all)")
    .option("--code <code>", "only this device code")
    .option("--number <n>", "only this device number (with --code)", integer(1, 4_294_967_295))
    .addOption(new Option("--source <source>", "where it was set aside").choices(["receiver", "writer"] as const))
    .option("--all", "include dead letters already replayed")
    .option("--limit <n>", "at most this many", integer(1, 100_000), 100)
    .action(async (o) => {
      const vigil = await cli.api();
      const out = await collectPages<DeadLetter>(o.limit, async (pageSize, pageToken) => {
        const page = await vigil.deadLetters.listDeadLetters(
          {
            deviceCode: o.code,
            deviceNumber: o.number,
            source: o.source,
            includeReplayed: o.all === true,
            pageSize,
            pageToken,
          },
          cli.call,
        );
        return [page.deadLetters, page.nextPageToken];
      });
      cli.output.list(
        out.map((d) => messageJson(DeadLetterSchema, d)),
        ["id", "device", "seq", "source", "code", "reason", "createTime", "replayTime", "payloadBytes"],
      );
    });

  deadLetters
    .command("replay")
    .description("validate the batch again with the current rules and, if it passes, send it to the writers")
    .requiredOption("--id <id>", "the dead letter", integer(1, Number.MAX_SAFE_INTEGER))
    .action(async (o) => {
      const replayed = await (await cli.api()).deadLetters.replayDeadLetter({ id: BigInt(o.id) }, cli.call);
      cli.output.object(messageJson(ReplayDeadLetterResponseSchema, replayed));
    });

  return deadLetters;
}
