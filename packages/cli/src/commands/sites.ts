import { createSite, fleetSummary, getSite, listSites, type SiteFields, updateSite } from "@vigil/fleet";
import { intFlag, parseFlags, stringFlag } from "../args.ts";
import type { CliContext } from "../cli-context.ts";
import { UsageError } from "../usage-error.ts";

export const SITES_USAGE = `vigil sites create --name NAME [--display-name TEXT] [--time-zone Europe/London] [--hours-per-day 12]
  vigil sites update --name NAME [--display-name TEXT] [--time-zone ZONE] [--hours-per-day H]
  vigil sites get --name NAME
  vigil sites list [--limit N]
  vigil fleet summary --from 2026-01-01 --to 2027-01-01 [--site NAME] [--kind surgical_robot]
      procedures, utilisation, downtime, MTBF and MTTR per site and per robot`;

/** `vigil sites …` */
export async function sitesCommand(ctx: CliContext, args: string[]): Promise<unknown> {
  const [action, ...rest] = args;
  const actor = { db: ctx.database.db, actor: ctx.actor };
  const spec = {
    name: { type: "string" },
    "display-name": { type: "string" },
    "time-zone": { type: "string" },
    "hours-per-day": { type: "string" },
  } as const;
  const fields = (v: { "display-name"?: string; "time-zone"?: string; "hours-per-day"?: string }): SiteFields => ({
    displayName: v["display-name"],
    timeZone: v["time-zone"],
    availableHoursPerDay: v["hours-per-day"] === undefined ? undefined : Number(v["hours-per-day"]),
  });
  switch (action) {
    case "create": {
      const v = parseFlags(rest, spec, SITES_USAGE);
      return createSite(actor, stringFlag(v.name, "name", SITES_USAGE), fields(v));
    }
    case "update": {
      const v = parseFlags(rest, spec, SITES_USAGE);
      return updateSite(actor, stringFlag(v.name, "name", SITES_USAGE), fields(v));
    }
    case "get":
      return getSite(
        ctx.database.db,
        stringFlag(parseFlags(rest, { name: spec.name }, SITES_USAGE).name, "name", SITES_USAGE),
      );
    case "list": {
      const v = parseFlags(rest, { limit: { type: "string" } }, SITES_USAGE);
      return listSites(ctx.database.db, {
        limit: v.limit === undefined ? 1000 : intFlag(v.limit, "limit", SITES_USAGE, 1, 100_000),
      });
    }
    default:
      throw new UsageError(`unknown sites command ${action ?? "(none)"}\n${SITES_USAGE}`);
  }
}

/** `vigil fleet summary …` */
export async function fleetCommand(ctx: CliContext, args: string[]): Promise<unknown> {
  const [action, ...rest] = args;
  if (action !== "summary") throw new UsageError(`unknown fleet command ${action ?? "(none)"}\n${SITES_USAGE}`);
  const v = parseFlags(
    rest,
    { from: { type: "string" }, to: { type: "string" }, site: { type: "string" }, kind: { type: "string" } },
    SITES_USAGE,
  );
  const startMs = dateFlag(v.from, "from", SITES_USAGE);
  const endMs = dateFlag(v.to, "to", SITES_USAGE);
  if (startMs >= endMs) throw new UsageError(`--from must be before --to\n${SITES_USAGE}`);
  const summary = await fleetSummary(ctx.database.db, { startMs, endMs, site: v.site, deviceKind: v.kind });
  return {
    from: new Date(startMs).toISOString(),
    to: new Date(endMs).toISOString(),
    fleet: summary.fleet,
    sites: summary.sites,
    robots: summary.robots.map(({ deviceId: _id, ...r }) => r),
  };
}

/** A required date or date-time flag, as ms since the epoch. */
export function dateFlag(value: string | undefined, name: string, usage: string): number {
  const ms = value === undefined ? Number.NaN : Date.parse(value);
  if (!Number.isFinite(ms))
    throw new UsageError(`--${name} must be a date such as 2026-01-31 or 2026-01-31T08:00:00Z\n${usage}`);
  return ms;
}
