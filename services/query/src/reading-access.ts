import type { HandlerContext } from "@connectrpc/connect";
import type { AuditEntry } from "@vigil/db";
import { actorOf, traceIdOf } from "./auth/principal.ts";
import type { ReadingFilter } from "./reading-filter.ts";

/**
 * Access logging of readings (issue 13): one audit entry per request (never
 * per row) saying who read which devices over which time range, and how many
 * rows the answer held. Actions: `readings.list` (ListReadings),
 * `readings.stats` (GetStats), `readings.watch` (WatchReadings, when it
 * opens); `vigil audit list --action 'readings.*'` shows them.
 */
export interface AccessLog {
  /** Resolves once the entry is committed (AuditBatcher): the caller answers only then. */
  record(entry: AuditEntry): Promise<void>;
}

/** Devices named in an entry; beyond this many the entry says how many more there were. */
const MAX_DEVICES_LISTED = 50;

/** ListReadings: the filter, the page asked for, and the devices and count of the readings returned. */
export function listAccessEntry(
  ctx: HandlerContext,
  filter: ReadingFilter,
  page: { nextPage: boolean; newestFirst: boolean },
  devices: Iterable<string>,
  rows: number,
): AuditEntry {
  const returned = [...new Set(devices)];
  return {
    actor: actorOf(ctx),
    action: "readings.list",
    target: target(filter),
    details: {
      ...filterDetails(filter),
      ...(page.nextPage ? { nextPage: true } : {}),
      ...(page.newestFirst ? { newestFirst: true } : {}),
      devicesReturned: returned.slice(0, MAX_DEVICES_LISTED),
      ...(returned.length > MAX_DEVICES_LISTED ? { devicesNotListed: returned.length - MAX_DEVICES_LISTED } : {}),
    },
    rowsAffected: rows,
    traceId: traceIdOf(ctx),
  };
}

/** GetStats: the filter and bucket; rows are the readings the buckets summarise. */
export function statsAccessEntry(
  ctx: HandlerContext,
  filter: ReadingFilter,
  bucketMs: number,
  result: { buckets: number; readings: number; source: string },
): AuditEntry {
  return {
    actor: actorOf(ctx),
    action: "readings.stats",
    target: target(filter),
    details: { ...filterDetails(filter), bucketMs, buckets: result.buckets, source: result.source },
    rowsAffected: result.readings,
    traceId: traceIdOf(ctx),
  };
}

/**
 * WatchReadings: who opened a live tail of which devices, recorded when it
 * opens (the readings it will stream are not known yet, and a tail may run
 * for hours).
 */
export function watchAccessEntry(ctx: HandlerContext, filter: ReadingFilter): AuditEntry {
  return {
    actor: actorOf(ctx),
    action: "readings.watch",
    target: target(filter),
    details: filterDetails(filter),
    traceId: traceIdOf(ctx),
  };
}

/** "devices:OR-3", "devices:OR-*", "devices:*-3" or "devices:*" (narrowed further in details). */
function target(filter: ReadingFilter): string {
  return `devices:${filter.deviceCode ?? "*"}-${filter.deviceNumber ?? "*"}`.replace("devices:*-*", "devices:*");
}

function filterDetails(filter: ReadingFilter): Record<string, unknown> {
  return {
    ...(filter.deviceCode !== undefined ? { deviceCode: filter.deviceCode } : {}),
    ...(filter.deviceNumber !== undefined ? { deviceNumber: filter.deviceNumber } : {}),
    ...(filter.sensor !== undefined ? { sensor: filter.sensor } : {}),
    ...(filter.site !== undefined ? { site: filter.site } : {}),
    ...(filter.deviceKind !== undefined ? { deviceKind: filter.deviceKind } : {}),
    ...(filter.deviceLabels !== undefined ? { deviceLabels: filter.deviceLabels } : {}),
    // The time range read; open ends are absent.
    ...(filter.startMs !== undefined ? { start: new Date(filter.startMs).toISOString() } : {}),
    ...(filter.endMs !== undefined ? { end: new Date(filter.endMs).toISOString() } : {}),
  };
}
