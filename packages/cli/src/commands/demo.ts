import { Command, InvalidArgumentError } from "@commander-js/extra-typings";
import type { Cli } from "../cli.ts";
import { integer } from "../flags.ts";
import type { Progress } from "../progress.ts";
import { CliError } from "../usage-error.ts";

/** 1 to 16 capital letters. */
function deviceCode(text: string): string {
  if (!/^[A-Z]{1,16}$/.test(text)) throw new InvalidArgumentError("must be 1 to 16 capital letters");
  return text;
}

/**
 * `vigil demo seed`: database-level work (DATABASE_URL), like migrate and
 * archive restore: two years of a fleet are millions of rows, written in
 * bulk, which no API call is meant to carry.
 */
export function demoCommand(cli: Cli) {
  const demo = new Command("demo").description("a simulated fleet to look at");

  demo
    .command("seed")
    .summary("load a simulated fleet's history into the database (DATABASE_URL)")
    .description(
      "load a simulated fleet's history straight into the database (DATABASE_URL): sites, robots CODE-1..n, procedures and outcomes, maintenance, condition readings for the whole range, arm and camera telemetry for the last days, aggregates and forecasts. Idempotent: a rerun adds only what is missing. Audited as cli:<os user>.",
    )
    .option("--robots <n>", "robots", integer(1, 10_000), 50)
    .option("--sites <n>", "sites they are spread over", integer(1, 1_000), 10)
    .option("--days <n>", "days of history, ending today", integer(1, 3_650), 730)
    .option("--code <code>", "the robots' device code", deviceCode, "ROB")
    .option("--telemetry-days <n>", "the last days whose procedures get arm and camera telemetry", integer(0, 30), 2)
    .action(async (o) => {
      const database = await cli.database();
      const { SeedError, seedDemo } = await import("@vigil/demo");
      let phase = "";
      let bar: Progress | undefined;
      try {
        const outcome = await seedDemo(database.db, {
          robots: o.robots,
          sites: o.sites,
          days: o.days,
          code: o.code,
          telemetryDays: o.telemetryDays,
          actor: `cli:${cli.io.osUser}`,
          onProgress: (p) => {
            if (p.phase !== phase) {
              bar?.stop();
              phase = p.phase;
              bar = cli.progress(p.phase.padEnd(10), p.total);
            }
            bar?.update(p.done, p.rows === undefined ? "" : `${p.rows.toLocaleString("en")} rows`, p.total);
          },
        });
        bar?.stop();
        cli.output.object({ ...outcome });
      } catch (err) {
        bar?.stop();
        if (err instanceof SeedError) throw new CliError(err.message);
        throw err;
      }
    });

  return demo;
}
