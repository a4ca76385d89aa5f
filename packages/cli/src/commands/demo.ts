import { type SeedProgress, seedDemo } from "@vigil/demo";
import { SingleBar } from "cli-progress";
import { intFlag, parseFlags } from "../args.ts";
import type { CliContext } from "../cli-context.ts";
import { UsageError } from "../usage-error.ts";

export const DEMO_USAGE = `vigil demo seed [--robots 50] [--sites 10] [--days 730] [--code ROB] [--telemetry-days 2]
      loads a simulated fleet's history: sites, robots CODE-1..n, procedures and outcomes, maintenance,
      condition readings for the whole range, arm and camera telemetry for the last days, aggregates
      and forecasts; idempotent (a rerun adds only what is missing)`;

/** `vigil demo seed`: a realistic fleet history, straight into the database, with a progress bar on stderr. */
export async function demoCommand(
  ctx: CliContext,
  args: string[],
  stderr: NodeJS.WriteStream = process.stderr,
): Promise<unknown> {
  const [action, ...rest] = args;
  if (action !== "seed") throw new UsageError(`unknown demo command ${action ?? "(none)"}\n${DEMO_USAGE}`);
  const v = parseFlags(
    rest,
    {
      robots: { type: "string" },
      sites: { type: "string" },
      days: { type: "string" },
      code: { type: "string" },
      "telemetry-days": { type: "string" },
    },
    DEMO_USAGE,
  );
  const code = v.code ?? "ROB";
  if (!/^[A-Z]{1,16}$/.test(code)) throw new UsageError(`--code must be 1 to 16 capital letters\n${DEMO_USAGE}`);
  const options = {
    robots: v.robots === undefined ? 50 : intFlag(v.robots, "robots", DEMO_USAGE, 1, 10_000),
    sites: v.sites === undefined ? 10 : intFlag(v.sites, "sites", DEMO_USAGE, 1, 1_000),
    days: v.days === undefined ? 730 : intFlag(v.days, "days", DEMO_USAGE, 1, 3_650),
    telemetryDays:
      v["telemetry-days"] === undefined ? 2 : intFlag(v["telemetry-days"], "telemetry-days", DEMO_USAGE, 0, 30),
    code,
    actor: ctx.actor,
  };
  const bar = new SingleBar({
    stream: stderr,
    format: "{phase} [{bar}] {value}/{total} {rows} rows | {duration_formatted} (eta {eta_formatted})",
    hideCursor: true,
    // Without a terminal, a line every few seconds instead of redrawing.
    noTTYOutput: true,
    notTTYSchedule: 5_000,
  });
  let phase = "";
  const onProgress = (p: SeedProgress) => {
    if (p.phase !== phase) {
      if (phase) bar.stop();
      phase = p.phase;
      bar.start(p.total, 0, { phase: p.phase.padEnd(10), rows: "" });
    }
    bar.update(p.done, { rows: p.rows === undefined ? "" : `${p.rows.toLocaleString("en")}` });
  };
  try {
    return await seedDemo(ctx.database.db, { ...options, onProgress });
  } finally {
    bar.stop();
  }
}
