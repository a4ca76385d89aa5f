import { ensureExternalRule, raiseExternalAlert, resolveExternalAlert } from "@vigil/alerts";
import { type Database, type Kysely, sql } from "@vigil/db";

/** The external alert rule's source for "maintenance due" (created on first use, editable by admins). */
export const MAINTENANCE_DUE_SOURCE = "maintenance";

export interface MaintenanceDueSync {
  raised: number;
  resolved: number;
}

/**
 * Brings the "maintenance due" alerts in line with the stored forecasts:
 * one alert per robot and component whose forecast is due or overdue, the
 * forecast attached; an open one is resolved once its component is no longer
 * due (a maintenance record reset it, or the trend changed). Idempotent, and
 * cheap when nothing changed (two reads), so it runs every lifecycle run and
 * a maintenance record clears its alert within LIFECYCLE_INTERVAL_MS. The
 * rule carries the alerts' severity, silences and notification channels like
 * any other; disabled, it raises nothing.
 */
export async function syncMaintenanceDueAlerts(db: Kysely<Database>, nowMs: number): Promise<MaintenanceDueSync> {
  const rule = await ensureExternalRule(
    { db, actor: "system:lifecycle" },
    {
      source: MAINTENANCE_DUE_SOURCE,
      name: "Maintenance due",
      description: "A robot component is predicted to cross its failure threshold within the forecast horizon.",
      severity: "warning",
    },
  );
  const { rows: due } = await sql<{
    device_id: number;
    code: string;
    number: number;
    component: string;
    sensor: string;
    status: string;
    threshold: number;
    fails_above: boolean;
    current_value: number | null;
    slope_per_day: number | null;
    crossing_at: Date | null;
    crossing_earliest: Date | null;
    crossing_latest: Date | null;
    computed_at: Date;
  }>`
    SELECT f.device_id, d.code, d.number, f.component, f.sensor, f.status, f.threshold, f.fails_above,
           f.current_value, f.slope_per_day, f.crossing_at, f.crossing_earliest, f.crossing_latest, f.computed_at
    FROM maintenance_forecasts f JOIN devices d ON d.id = f.device_id
    WHERE f.status IN ('due', 'overdue') AND d.deleted_at IS NULL`.execute(db);
  const { rows: open } = await sql<{ device_id: number; code: string; number: number; sensor: string }>`
    SELECT a.device_id, d.code, d.number, a.sensor
    FROM alerts a JOIN devices d ON d.id = a.device_id
    WHERE a.rule_id = ${rule.id} AND a.state <> 'resolved'`.execute(db);
  const key = (deviceId: number, component: string) => `${deviceId}|${component}`;
  const openKeys = new Set(open.map((a) => key(Number(a.device_id), a.sensor)));
  const dueKeys = new Set(due.map((f) => key(Number(f.device_id), f.component)));
  const iso = (d: Date | null) => (d ? d.toISOString() : null);
  let raised = 0;
  for (const f of due) {
    if (openKeys.has(key(Number(f.device_id), f.component))) continue;
    const when = f.crossing_at ? ` around ${f.crossing_at.toISOString().slice(0, 10)}` : "";
    const out = await raiseExternalAlert(db, {
      source: MAINTENANCE_DUE_SOURCE,
      device: { code: f.code, number: f.number },
      sensor: f.component,
      summary: `${f.component} of ${f.code}-${f.number} ${f.status === "overdue" ? "is past" : "will cross"} its threshold (${f.sensor} ${f.fails_above ? "above" : "below"} ${f.threshold})${when}: maintenance ${f.status}`,
      startedAtMs: nowMs,
      details: {
        forecast: {
          component: f.component,
          sensor: f.sensor,
          status: f.status,
          threshold: f.threshold,
          failsAbove: f.fails_above,
          currentValue: f.current_value,
          slopePerDay: f.slope_per_day,
          crossingAt: iso(f.crossing_at),
          crossingEarliest: iso(f.crossing_earliest),
          crossingLatest: iso(f.crossing_latest),
          computedAt: iso(f.computed_at),
        },
      },
    });
    raised += out.fired.length;
  }
  let resolved = 0;
  for (const a of open) {
    if (dueKeys.has(key(Number(a.device_id), a.sensor))) continue;
    const out = await resolveExternalAlert(db, {
      source: MAINTENANCE_DUE_SOURCE,
      device: { code: a.code, number: a.number },
      sensor: a.sensor,
      reason: "no longer due (maintained, or the forecast changed)",
      atMs: nowMs,
    });
    resolved += out.resolved.length;
  }
  return { raised, resolved };
}
