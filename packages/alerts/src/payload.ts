import type { AlertView } from "./alert-store.ts";

/**
 * The JSON body of a notification (docs/alerts.md, "Payload"): the Standard
 * Webhooks shape `{type, timestamp, data}`. Emails carry the same data.
 */
export interface AlertPayload {
  type: "alert.fired" | "alert.resolved" | "alert.test";
  /** When the event happened (ISO 8601). */
  timestamp: string;
  data: { alert?: PayloadAlert; channel?: string; requestedBy?: string };
}

export interface PayloadAlert {
  id: number;
  ruleId: number;
  ruleName: string;
  kind: string;
  severity: string;
  state: string;
  device: { code: string; number: number } | null;
  sensor: string;
  summary: string;
  startTime: string;
  fireTime: string;
  resolveTime: string | null;
  resolveReason: string | null;
  values: Array<{ time: string; value: number }>;
  details: Record<string, unknown>;
}

export function alertPayload(alert: AlertView, event: "fired" | "resolved"): AlertPayload {
  return {
    type: event === "fired" ? "alert.fired" : "alert.resolved",
    timestamp: (event === "fired" ? alert.firedAt : (alert.resolvedAt ?? new Date())).toISOString(),
    data: {
      alert: {
        id: alert.id,
        ruleId: alert.ruleId,
        ruleName: alert.ruleName,
        kind: alert.kind,
        severity: alert.severity,
        state: alert.state,
        device: alert.device ?? null,
        sensor: alert.sensor,
        summary: alert.summary,
        startTime: alert.startedAt.toISOString(),
        fireTime: alert.firedAt.toISOString(),
        resolveTime: alert.resolvedAt?.toISOString() ?? null,
        resolveReason: alert.resolveReason,
        values: alert.values.map(([t, value]) => ({ time: new Date(t).toISOString(), value })),
        details: alert.details,
      },
    },
  };
}

export function testPayload(channel: string, requestedBy: string): AlertPayload {
  return { type: "alert.test", timestamp: new Date().toISOString(), data: { channel, requestedBy } };
}

/** Subject line of an email notification. */
export function emailSubject(p: AlertPayload): string {
  const a = p.data.alert;
  if (!a) return `[Vigil] test notification (${p.data.channel})`;
  const where = a.device ? ` ${a.device.code}-${a.device.number}${a.sensor ? ` ${a.sensor}` : ""}` : "";
  const what = p.type === "alert.resolved" ? "RESOLVED" : a.severity.toUpperCase();
  return `[Vigil ${what}]${where}: ${a.ruleName}`.slice(0, 200);
}

/** Plain-text body of an email notification. */
export function emailText(p: AlertPayload): string {
  const a = p.data.alert;
  if (!a)
    return `This is a test notification from Vigil for channel "${p.data.channel}", requested by ${p.data.requestedBy}.\n`;
  const lines = [
    a.summary,
    "",
    `Rule:      ${a.ruleName} (${a.kind}, ${a.severity})`,
    `Device:    ${a.device ? `${a.device.code}-${a.device.number}` : "-"}`,
    `Sensor:    ${a.sensor || "-"}`,
    `Started:   ${a.startTime}`,
    `Raised:    ${a.fireTime}`,
  ];
  if (a.resolveTime) lines.push(`Resolved:  ${a.resolveTime} (${a.resolveReason ?? ""})`);
  if (a.values.length > 0) lines.push("", "Values:", ...a.values.map((v) => `  ${v.time}  ${v.value}`));
  lines.push("", `Alert id ${a.id}. The JSON of this notification:`, JSON.stringify(p));
  return `${lines.join("\n")}\n`;
}
