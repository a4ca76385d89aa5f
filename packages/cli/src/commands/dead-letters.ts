import { listDeadLetters, readingRulesEnv, replayDeadLetter } from "@vigil/ingest";
import { parseEnvConfig } from "@vigil/runtime";
import { z } from "zod";
import { intFlag, parseFlags } from "../args.ts";
import type { CliContext } from "../cli-context.ts";
import { UsageError } from "../usage-error.ts";

export const DEAD_LETTERS_USAGE = `vigil dead-letters list [--code CODE] [--number N] [--source receiver|writer] [--all] [--limit N]
  vigil dead-letters replay --id ID
      validates the batch again with the current rules and sends it to the writers (needs NATS_URL)`;

/** `vigil dead-letters …` */
export async function deadLettersCommand(
  ctx: CliContext,
  args: string[],
  env: Record<string, string | undefined>,
): Promise<unknown> {
  const [action, ...rest] = args;
  switch (action) {
    case "list": {
      const v = parseFlags(
        rest,
        {
          code: { type: "string" },
          number: { type: "string" },
          source: { type: "string" },
          all: { type: "boolean" },
          limit: { type: "string" },
        },
        DEAD_LETTERS_USAGE,
      );
      if (v.source !== undefined && v.source !== "receiver" && v.source !== "writer") {
        throw new UsageError(`--source must be receiver or writer\n${DEAD_LETTERS_USAGE}`);
      }
      const rows = await listDeadLetters(ctx.database.db, {
        deviceCode: v.code,
        deviceNumber: v.number === undefined ? undefined : intFlag(v.number, "number", DEAD_LETTERS_USAGE),
        source: v.source,
        includeReplayed: v.all === true,
        limit: v.limit === undefined ? 100 : intFlag(v.limit, "limit", DEAD_LETTERS_USAGE, 1, 100_000),
      });
      return rows.map(({ payload: _p, deviceId: _d, ...r }) => r);
    }
    case "replay": {
      const v = parseFlags(rest, { id: { type: "string" } }, DEAD_LETTERS_USAGE);
      const id = intFlag(v.id, "id", DEAD_LETTERS_USAGE, 1, Number.MAX_SAFE_INTEGER);
      const rules = parseEnvConfig(z.object(readingRulesEnv), env);
      const { deadLetter, readings } = await replayDeadLetter(
        {
          db: ctx.database.db,
          bus: await ctx.bus(),
          actor: ctx.actor,
          limits: {
            maxBatchReadings: Number.MAX_SAFE_INTEGER,
            maxFutureSkewMs: rules.READINGS_MAX_FUTURE_SKEW_MS,
            maxAgeMs: rules.READINGS_RETENTION_MS,
          },
        },
        id,
      );
      const { payload: _p, deviceId: _d, ...shown } = deadLetter;
      return { replayed: shown, readings };
    }
    default:
      throw new UsageError(`unknown dead-letters command ${action ?? "(none)"}\n${DEAD_LETTERS_USAGE}`);
  }
}
