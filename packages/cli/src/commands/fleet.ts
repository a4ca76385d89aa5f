import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Command } from "@commander-js/extra-typings";
import { GetFleetSummaryResponseSchema } from "@vigil/client";
import type { Cli } from "../cli.ts";
import { time } from "../flags.ts";
import { type Column, messageJson } from "../output.ts";
import { UsageError } from "../usage-error.ts";

/** A number of a table cell, rounded for reading (JSON output keeps every digit). */
const rounded = (digits: number) => (v: unknown) =>
  typeof v === "number" ? Number(v.toFixed(digits)) : v === undefined ? "" : v;

/** The figures of a Usage, as table columns below `prefix` (such as "usage."). */
function usageColumns(prefix: string): Column[] {
  const at = (row: Record<string, unknown>, key: string) =>
    prefix ? (row[prefix] as Record<string, unknown> | undefined)?.[key] : row[key];
  const col = (key: string, digits?: number): Column => ({
    header: key,
    value: (row) => (digits === undefined ? at(row, key) : rounded(digits)(at(row, key))),
  });
  return [
    col("robots"),
    col("procedures"),
    col("procedureHours", 1),
    col("utilisation", 3),
    col("downtimeHours", 1),
    col("failures"),
    col("mtbfHours", 0),
    col("mttrHours", 1),
    col("openAlerts"),
    col("adverseOutcomes"),
  ];
}

/** `vigil fleet summary`: FleetService/GetFleetSummary (fleet:read). */
export function fleetCommand(cli: Cli) {
  const fleet = new Command("fleet").description("how the fleet is used");

  fleet
    .command("summary")
    .summary("procedures, utilisation, downtime, MTBF and MTTR per site (or per robot)")
    .description(
      "procedures, utilisation (procedure hours over available hours), downtime, MTBF and MTTR from maintenance records, and open alerts over [from, to): per site and the whole fleet in a table, per robot with --robots; JSON has all three",
    )
    .requiredOption("--from <time>", "ISO 8601 time, such as 2026-01-01 or 2026-01-01T08:00:00Z", time)
    .requiredOption("--to <time>", "ISO 8601 time (excluded)", time)
    .option("--site <site>", "only robots at this site")
    .option("--kind <kind>", "which devices count as robots (default surgical_robot)")
    .option("--robots", "a row per robot instead of per site (tables only)")
    .action(async (o) => {
      if (o.from >= o.to) throw new UsageError("--from must be before --to");
      const summary = await (await cli.api()).fleet.getFleetSummary(
        { startTime: timestampFromMs(o.from), endTime: timestampFromMs(o.to), site: o.site, deviceKind: o.kind },
        cli.call,
      );
      const json = messageJson(GetFleetSummaryResponseSchema, summary);
      if (cli.output.json) {
        cli.output.object(json);
        return;
      }
      if (o.robots) {
        cli.output.list(json.robots as Array<Record<string, unknown>>, [
          "deviceCode",
          "deviceNumber",
          "site",
          "model",
          ...usageColumns("usage"),
        ]);
        return;
      }
      const rows = [
        ...(json.sites as Array<Record<string, unknown>>),
        { site: "(fleet)", displayName: "", usage: json.fleet },
      ];
      cli.output.list(rows, ["site", "displayName", ...usageColumns("usage")]);
    });

  return fleet;
}
