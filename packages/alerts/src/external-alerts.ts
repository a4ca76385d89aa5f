import { type Database, type Kysely, sql } from "@vigil/db";
import { AlertError } from "./alert-error.ts";
import { type AppliedTransitions, applyTransitions } from "./alert-store.ts";
import { selects } from "./rule-model.ts";
import { fromRow } from "./rule-store.ts";

/** How long a notification is retried before it is marked failed. */
export const DEFAULT_DELIVERY_DEADLINE_MS = 3_600_000;

export interface ExternalAlert {
  /** The external rule's source, such as "maintenance" (ensureExternalRule creates the rule). */
  source: string;
  device: { code: string; number: number };
  /** What the alert is about within the device ("" for the device as a whole), such as "motor". */
  sensor?: string;
  summary: string;
  /** When the condition began; with the rule, device and sensor it names the occurrence. */
  startedAtMs: number;
  values?: Array<[number, number]>;
  details?: Record<string, unknown>;
}

/**
 * Raises an alert through the source's external rule, with the same
 * lifecycle, silences and notifications as a detector's: idempotent (a
 * second raise of an open alert, or of the same occurrence, does nothing),
 * at most one open per rule, device and sensor. Nothing is raised while the
 * rule is disabled or does not select the device. Returns what changed.
 */
export async function raiseExternalAlert(
  db: Kysely<Database>,
  alert: ExternalAlert,
  options: { deliveryDeadlineMs?: number } = {},
): Promise<AppliedTransitions> {
  return db.transaction().execute(async (tx) => {
    const { rule, deviceId } = await ruleAndDevice(tx, alert.source, alert.device);
    const d = await tx.selectFrom("devices").selectAll().where("id", "=", deviceId).executeTakeFirstOrThrow();
    if (!rule.enabled || !selects(rule.devices, { ...d, labels: d.labels ?? {} })) {
      return { fired: [], resolved: [], deliveries: 0, changed: [false] };
    }
    return applyTransitions(
      tx,
      [
        {
          type: "fire",
          ruleId: rule.id,
          deviceId,
          sensor: alert.sensor ?? "",
          startedAtMs: alert.startedAtMs,
          severity: rule.severity,
          summary: alert.summary.slice(0, 500),
          values: alert.values ?? [],
          details: alert.details ?? {},
        },
      ],
      { deliveryDeadlineMs: options.deliveryDeadlineMs ?? DEFAULT_DELIVERY_DEADLINE_MS },
    );
  });
}

/** Resolves the open external alert of a device (and sensor), if there is one. */
export async function resolveExternalAlert(
  db: Kysely<Database>,
  input: { source: string; device: { code: string; number: number }; sensor?: string; reason: string; atMs?: number },
  options: { deliveryDeadlineMs?: number } = {},
): Promise<AppliedTransitions> {
  return db.transaction().execute(async (tx) => {
    const { rule, deviceId } = await ruleAndDevice(tx, input.source, input.device);
    return applyTransitions(
      tx,
      [
        {
          type: "resolve",
          ruleId: rule.id,
          deviceId,
          sensor: input.sensor ?? "",
          resolvedAtMs: input.atMs ?? Date.now(),
          reason: input.reason,
        },
      ],
      { deliveryDeadlineMs: options.deliveryDeadlineMs ?? DEFAULT_DELIVERY_DEADLINE_MS },
    );
  });
}

async function ruleAndDevice(tx: Kysely<Database>, source: string, device: { code: string; number: number }) {
  const row = await tx
    .selectFrom("alert_rules")
    .selectAll()
    .where("kind", "=", "external")
    .where("source", "=", source)
    .where("deleted_at", "is", null)
    .executeTakeFirst();
  if (!row)
    throw new AlertError("failed_precondition", `no external alert rule for source "${source}" (ensureExternalRule)`);
  const d = await tx
    .selectFrom("devices")
    .select("id")
    .where("code", "=", device.code)
    .where("number", "=", device.number)
    .executeTakeFirst();
  if (!d) throw new AlertError("not_found", `device ${device.code}-${device.number} not found`);
  void sql;
  return { rule: fromRow(row), deviceId: d.id };
}
