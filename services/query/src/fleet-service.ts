import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { Database, Kysely } from "@vigil/db";
import {
  createSite,
  type FleetSummaryOptions,
  fleetSummary,
  getSite,
  listSites,
  type SiteFields,
  type SiteView,
  type Usage,
  updateSite,
} from "@vigil/fleet";
import { type FleetService, type Site, SiteSchema, type Usage as UsageMessage, UsageSchema } from "@vigil/proto";
import { actorOf, traceIdOf } from "./auth/principal.ts";
import { InvalidArgumentError } from "./errors.ts";
import { checkedPageSize, decodeCursor, encodeCursor } from "./paging.ts";
import { checkedMs } from "./reading-filter.ts";

export interface FleetServiceDeps {
  db: Kysely<Database>;
  /** Open alerts per device, from the alerting service; the summary shows none without it. */
  openAlerts?: FleetSummaryOptions["openAlerts"];
}

const DAY_MS = 86_400_000;
/** The longest range a summary covers (ten years). */
export const MAX_SUMMARY_SPAN_MS = 3660 * DAY_MS;

/** vigil.fleet.v1.FleetService: sites and the fleet summary, audited. */
export function fleetService(deps: FleetServiceDeps): ServiceImpl<typeof FleetService> {
  const actor = (ctx: HandlerContext) => ({ db: deps.db, actor: actorOf(ctx), traceId: traceIdOf(ctx) });
  return {
    async createSite(req, ctx) {
      const site = req.site;
      if (!site) throw new InvalidArgumentError("site", "is required");
      const fields: SiteFields = {
        displayName: site.displayName,
        timeZone: site.timeZone,
        ...(site.availableHoursPerDay !== 0 ? { availableHoursPerDay: site.availableHoursPerDay } : {}),
      };
      return { site: toSite(await createSite(actor(ctx), site.name, fields)) };
    },
    async getSite(req) {
      if (!req.name) throw new InvalidArgumentError("name", "is required");
      return { site: toSite(await getSite(deps.db, req.name)) };
    },
    async listSites(req) {
      const limit = checkedPageSize(req.pageSize);
      const after = req.pageToken ? decodeCursor(req.pageToken, req, isNameCursor).name : undefined;
      const sites = await listSites(deps.db, { limit: limit + 1, after });
      const page = sites.slice(0, limit);
      const last = page.at(-1);
      return {
        sites: page.map(toSite),
        nextPageToken: sites.length > limit && last ? encodeCursor({ name: last.name }, req) : "",
      };
    },
    async updateSite(req, ctx) {
      const site = req.site;
      if (!site?.name) throw new InvalidArgumentError("site.name", "is required");
      const paths = req.updateMask?.paths ?? [];
      if (paths.length === 0) throw new InvalidArgumentError("update_mask", "must name at least one field");
      const changes: SiteFields = {};
      for (const path of paths) {
        if (path === "display_name") changes.displayName = site.displayName;
        else if (path === "time_zone") changes.timeZone = site.timeZone;
        else if (path === "available_hours_per_day") changes.availableHoursPerDay = site.availableHoursPerDay || 24;
        else {
          throw new InvalidArgumentError(
            "update_mask",
            `cannot update ${JSON.stringify(path)}: display_name, time_zone, available_hours_per_day`,
          );
        }
      }
      return { site: toSite(await updateSite(actor(ctx), site.name, changes)) };
    },
    async getFleetSummary(req) {
      if (!req.startTime) throw new InvalidArgumentError("start_time", "is required");
      if (!req.endTime) throw new InvalidArgumentError("end_time", "is required");
      const startMs = checkedMs(req.startTime, "start_time");
      const endMs = checkedMs(req.endTime, "end_time");
      if (startMs >= endMs) throw new InvalidArgumentError("start_time", "must be before end_time");
      if (endMs - startMs > MAX_SUMMARY_SPAN_MS)
        throw new InvalidArgumentError("end_time", "at most 3660 days after start_time");
      if (req.site.length > 200) throw new InvalidArgumentError("site", "must be at most 200 characters");
      if (req.deviceKind.length > 200) throw new InvalidArgumentError("device_kind", "must be at most 200 characters");
      const summary = await fleetSummary(deps.db, {
        startMs,
        endMs,
        site: req.site || undefined,
        deviceKind: req.deviceKind || undefined,
        openAlerts: deps.openAlerts,
      });
      return {
        startTime: timestampFromMs(startMs),
        endTime: timestampFromMs(endMs),
        fleet: toUsage(summary.fleet),
        sites: summary.sites.map((s) => ({ site: s.site, displayName: s.displayName, usage: toUsage(s.usage) })),
        robots: summary.robots.map((r) => ({
          deviceCode: r.deviceCode,
          deviceNumber: r.deviceNumber,
          site: r.site,
          model: r.model,
          usage: toUsage(r.usage),
        })),
      };
    },
  };
}

function isNameCursor(c: unknown): c is { name: string } {
  return typeof (c as { name?: unknown })?.name === "string";
}

function toSite(s: SiteView): Site {
  return create(SiteSchema, {
    name: s.name,
    displayName: s.displayName,
    timeZone: s.timeZone,
    availableHoursPerDay: s.availableHoursPerDay,
    createTime: timestampFromMs(s.createdAt.getTime()),
    updateTime: timestampFromMs(s.updatedAt.getTime()),
    deviceCount: s.deviceCount,
  });
}

function toUsage(u: Usage): UsageMessage {
  return create(UsageSchema, {
    robots: u.robots,
    procedures: u.procedures,
    procedureHours: u.procedureHours,
    availableHours: u.availableHours,
    utilisation: u.utilisation,
    downtimeHours: u.downtimeHours,
    maintenanceRecords: u.maintenanceRecords,
    failures: u.failures,
    mtbfHours: u.mtbfHours,
    mttrHours: u.mttrHours,
    maintenanceCostMinor: BigInt(u.maintenanceCostMinor),
    costCurrency: u.costCurrency,
    openAlerts: u.openAlerts,
    adverseOutcomes: u.adverseOutcomes,
  });
}
