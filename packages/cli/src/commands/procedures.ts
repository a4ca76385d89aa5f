import { getProcedure, listProcedures, type ProcedureState } from "@vigil/procedures";
import { intFlag, parseFlags, stringFlag } from "../args.ts";
import type { CliContext } from "../cli-context.ts";
import { UsageError } from "../usage-error.ts";
import { dateFlag } from "./sites.ts";

export const PROCEDURES_USAGE = `vigil procedures list [--code CODE [--number N]] [--site S] [--type T] [--surgeon ID]
                       [--state in_progress|completed|aborted] [--from DATE] [--to DATE] [--limit N]
  vigil procedures get --id ID`;

/** `vigil procedures …`: read-only; procedures are recorded through ProcedureService. */
export async function proceduresCommand(ctx: CliContext, args: string[]): Promise<unknown> {
  const [action, ...rest] = args;
  switch (action) {
    case "list": {
      const v = parseFlags(
        rest,
        {
          code: { type: "string" },
          number: { type: "string" },
          site: { type: "string" },
          type: { type: "string" },
          surgeon: { type: "string" },
          state: { type: "string" },
          from: { type: "string" },
          to: { type: "string" },
          limit: { type: "string" },
        },
        PROCEDURES_USAGE,
      );
      if (v.state !== undefined && !["in_progress", "completed", "aborted"].includes(v.state)) {
        throw new UsageError(`--state must be in_progress, completed or aborted\n${PROCEDURES_USAGE}`);
      }
      return listProcedures(ctx.database.db, {
        deviceCode: v.code,
        deviceNumber: v.number === undefined ? undefined : intFlag(v.number, "number", PROCEDURES_USAGE),
        site: v.site,
        type: v.type,
        surgeonId: v.surgeon,
        state: v.state as ProcedureState | undefined,
        startMs: v.from === undefined ? undefined : dateFlag(v.from, "from", PROCEDURES_USAGE),
        endMs: v.to === undefined ? undefined : dateFlag(v.to, "to", PROCEDURES_USAGE),
        limit: v.limit === undefined ? 100 : intFlag(v.limit, "limit", PROCEDURES_USAGE, 1, 100_000),
      });
    }
    case "get": {
      const v = parseFlags(rest, { id: { type: "string" } }, PROCEDURES_USAGE);
      return getProcedure(ctx.database.db, stringFlag(v.id, "id", PROCEDURES_USAGE));
    }
    default:
      throw new UsageError(`unknown procedures command ${action ?? "(none)"}\n${PROCEDURES_USAGE}`);
  }
}
