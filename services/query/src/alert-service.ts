import { create, type JsonObject } from "@bufbuild/protobuf";
import { durationFromMs, durationMs, type Timestamp, timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  type AlertFilter as AlertQuery,
  type AlertView,
  acknowledgeAlert,
  type ChannelView,
  type Condition,
  createChannel,
  createRule,
  createSilence,
  createTestDelivery,
  DEFAULT_DELIVERY_DEADLINE_MS,
  type Delivery as DeliveryRow,
  deleteRule,
  endSilence,
  getAlert,
  getDelivery,
  getRule,
  listAlerts,
  listChannels,
  listDeliveries,
  listRules,
  listSilences,
  type Rule,
  type RuleSpec,
  retryDelivery,
  type Severity as SeverityName,
  type SilenceRow,
  updateRule,
} from "@vigil/alerts";
import type { Database, Kysely } from "@vigil/db";
import {
  type Alert,
  type AlertFilter,
  type AlertRule,
  AlertRuleSchema,
  AlertSchema,
  type AlertService,
  AlertState,
  ChannelKind,
  Comparison,
  type Delivery,
  DeliverySchema,
  DeliveryState,
  type NotificationChannel,
  NotificationChannelSchema,
  Severity,
  type Silence,
  SilenceSchema,
} from "@vigil/proto";
import { type AlertWatchHub, watchAlerts } from "./alert-watch.ts";
import { InvalidArgumentError } from "./errors.ts";
import { checkedPageSize, decodeCursor, encodeCursor, hasIntegers } from "./paging.ts";

export interface AlertServiceDeps {
  db: Kysely<Database>;
  actor: (ctx: HandlerContext) => string;
  traceId: (ctx: HandlerContext) => string | undefined;
  hub: AlertWatchHub;
  /** How long TestNotificationChannel waits for the first attempt. */
  testWaitMs?: number;
}

const isIdCursor = (c: unknown): c is { id: number } => hasIntegers(c, "id");
const isAlertCursor = (c: unknown): c is { t: number; id: number } => hasIntegers(c, "t", "id");

/** vigil.alerts.v1.AlertService: rules, alerts, silences, channels and deliveries, every change audited. */
export function alertService(deps: AlertServiceDeps): ServiceImpl<typeof AlertService> {
  const who = (ctx: HandlerContext) => ({ db: deps.db, actor: deps.actor(ctx), traceId: deps.traceId(ctx) });
  return {
    async createAlertRule(req, ctx) {
      if (!req.rule) throw new InvalidArgumentError("rule", "is required");
      if (req.rule.condition.case === "external") {
        throw new InvalidArgumentError("rule.external", "external rules are created by the services that raise them");
      }
      return { rule: toRule(await createRule(who(ctx), toSpec(req.rule))) };
    },
    async listAlertRules(req) {
      const limit = checkedPageSize(req.pageSize);
      const after = req.pageToken ? decodeCursor(req.pageToken, req, isIdCursor) : undefined;
      const rules = await listRules(deps.db, { limit: limit + 1, afterId: after?.id });
      const page = rules.slice(0, limit);
      const last = page.at(-1);
      return {
        rules: page.map(toRule),
        nextPageToken: rules.length > limit && last ? encodeCursor({ id: last.id }, req) : "",
      };
    },
    async updateAlertRule(req, ctx) {
      const id = requiredId(req.rule?.id, "rule.id");
      const paths = req.updateMask?.paths ?? [];
      if (paths.length === 0) throw new InvalidArgumentError("update_mask", "name at least one field to change");
      const current = await getRule(deps.db, id);
      const change = toSpec(req.rule!, true);
      const merged: RuleSpec = { ...current };
      const fields: string[] = [];
      for (const path of paths) {
        const field = FIELD_OF_PATH[path];
        if (!field) throw new InvalidArgumentError("update_mask", `cannot change "${path}"`);
        (merged as unknown as Record<string, unknown>)[field] = (change as unknown as Record<string, unknown>)[field];
        fields.push(field === "condition" ? "condition" : field);
      }
      return { rule: toRule(await updateRule(who(ctx), id, merged, fields)) };
    },
    async deleteAlertRule(req, ctx) {
      const resolved = await deleteRule(who(ctx), requiredId(req.id, "id"));
      return { resolvedAlerts: BigInt(resolved) };
    },
    async listAlerts(req) {
      const limit = checkedPageSize(req.pageSize);
      const before = req.pageToken ? decodeCursor(req.pageToken, req, isAlertCursor) : undefined;
      const alerts = await listAlerts(deps.db, toQuery(req.filter), {
        limit: limit + 1,
        before: before && { startedAtMs: before.t, id: before.id },
      });
      const page = alerts.slice(0, limit);
      const last = page.at(-1);
      return {
        alerts: page.map(toAlert),
        nextPageToken:
          alerts.length > limit && last ? encodeCursor({ t: last.startedAt.getTime(), id: last.id }, req) : "",
      };
    },
    async getAlert(req) {
      return { alert: toAlert(await getAlert(deps.db, requiredId(req.id, "id"))) };
    },
    async acknowledgeAlert(req, ctx) {
      return { alert: toAlert(await acknowledgeAlert(who(ctx), requiredId(req.id, "id"), req.comment)) };
    },
    async createSilence(req, ctx) {
      const m = req.matcher;
      const row = await createSilence(who(ctx), {
        matcher: {
          ruleId: m?.ruleId ? Number(m.ruleId) : undefined,
          deviceCode: m?.deviceCode || undefined,
          deviceNumber: m?.deviceNumber,
          sensor: m?.sensor || undefined,
          maxSeverity: m?.maxSeverity ? SEVERITY_NAMES[m.maxSeverity] : undefined,
        },
        startMs: req.startTime ? timestampMs(req.startTime) : undefined,
        durationMs: req.duration ? durationMs(req.duration) : 0,
        comment: req.comment,
      });
      return { silence: toSilence(row) };
    },
    async listSilences(req) {
      const limit = checkedPageSize(req.pageSize);
      const before = req.pageToken ? decodeCursor(req.pageToken, req, isIdCursor) : undefined;
      const rows = await listSilences(deps.db, {
        includeExpired: req.includeExpired,
        limit: limit + 1,
        beforeId: before?.id,
      });
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        silences: page.map(toSilence),
        nextPageToken: rows.length > limit && last ? encodeCursor({ id: Number(last.id) }, req) : "",
      };
    },
    async deleteSilence(req, ctx) {
      return { silence: toSilence(await endSilence(who(ctx), requiredId(req.id, "id"))) };
    },
    watchAlerts(req, ctx) {
      return watchAlerts(deps.db, deps.hub, toQuery(req.filter), ctx.signal, toAlert);
    },
    async createNotificationChannel(req, ctx) {
      const c = req.channel;
      if (!c) throw new InvalidArgumentError("channel", "is required");
      const rate = c.rateLimitPerMinute;
      const spec =
        c.config.case === "webhook"
          ? { name: c.name, kind: "webhook" as const, url: c.config.value.url, ratePerMinute: rate }
          : c.config.case === "email"
            ? { name: c.name, kind: "email" as const, to: c.config.value.to, ratePerMinute: rate }
            : undefined;
      if (!spec) throw new InvalidArgumentError("channel", "set webhook or email");
      if (c.kind !== ChannelKind.UNSPECIFIED && KIND_NAMES[c.kind] !== spec.kind) {
        throw new InvalidArgumentError("channel.kind", `does not match the ${spec.kind} config`);
      }
      const { channel, secret } = await createChannel(who(ctx), spec);
      return { channel: toChannel(channel), signingSecret: secret };
    },
    async listNotificationChannels(req) {
      const limit = checkedPageSize(req.pageSize);
      const after = req.pageToken ? decodeCursor(req.pageToken, req, isIdCursor) : undefined;
      const rows = await listChannels(deps.db, { limit: limit + 1, afterId: after?.id });
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        channels: page.map(toChannel),
        nextPageToken: rows.length > limit && last ? encodeCursor({ id: last.id }, req) : "",
      };
    },
    async testNotificationChannel(req, ctx) {
      const created = await createTestDelivery(who(ctx), requiredId(req.id, "id"), 60_000);
      // The alerters send it; wait (bounded) for their first attempt.
      const until = Date.now() + (deps.testWaitMs ?? 10_000);
      let row = created;
      while (Date.now() < until && !ctx.signal.aborted) {
        await new Promise((r) => setTimeout(r, 200));
        row = await getDelivery(deps.db, Number(created.id));
        if (row.attempts > 0 || row.state !== "pending" || row.last_error) break;
      }
      return { delivery: toDelivery(row) };
    },
    async listDeliveries(req) {
      const limit = checkedPageSize(req.pageSize);
      const before = req.pageToken ? decodeCursor(req.pageToken, req, isIdCursor) : undefined;
      const rows = await listDeliveries(
        deps.db,
        {
          channelId: req.channelId ? Number(req.channelId) : undefined,
          alertId: req.alertId ? Number(req.alertId) : undefined,
          state: req.state ? DELIVERY_STATE_NAMES[req.state] : undefined,
        },
        { limit: limit + 1, beforeId: before?.id },
      );
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        deliveries: page.map(toDelivery),
        nextPageToken: rows.length > limit && last ? encodeCursor({ id: Number(last.id) }, req) : "",
      };
    },
    async retryDelivery(req, ctx) {
      const row = await retryDelivery(who(ctx), requiredId(req.id, "id"), DEFAULT_DELIVERY_DEADLINE_MS);
      return { delivery: toDelivery(row) };
    },
  };
}

const FIELD_OF_PATH: Record<string, keyof RuleSpec> = {
  name: "name",
  description: "description",
  severity: "severity",
  devices: "devices",
  sensors: "sensors",
  channel_ids: "channelIds",
  enabled: "enabled",
  condition: "condition",
  threshold: "condition",
  rate_of_change: "condition",
  anomaly: "condition",
  absence: "condition",
};

const SEVERITY_NAMES: Record<Severity, SeverityName | undefined> = {
  [Severity.UNSPECIFIED]: undefined,
  [Severity.INFO]: "info",
  [Severity.WARNING]: "warning",
  [Severity.CRITICAL]: "critical",
};
const SEVERITY_OF: Record<string, Severity> = {
  info: Severity.INFO,
  warning: Severity.WARNING,
  critical: Severity.CRITICAL,
};
const STATE_OF: Record<string, AlertState> = {
  firing: AlertState.FIRING,
  acknowledged: AlertState.ACKNOWLEDGED,
  resolved: AlertState.RESOLVED,
};
const STATE_NAMES: Record<number, "firing" | "acknowledged" | "resolved"> = {
  [AlertState.FIRING]: "firing",
  [AlertState.ACKNOWLEDGED]: "acknowledged",
  [AlertState.RESOLVED]: "resolved",
};
const KIND_NAMES: Record<number, "webhook" | "email"> = {
  [ChannelKind.WEBHOOK]: "webhook",
  [ChannelKind.EMAIL]: "email",
};
const DELIVERY_STATE_NAMES: Record<number, DeliveryRow["state"]> = {
  [DeliveryState.PENDING]: "pending",
  [DeliveryState.SUCCEEDED]: "succeeded",
  [DeliveryState.FAILED]: "failed",
  [DeliveryState.SKIPPED]: "skipped",
};
const DELIVERY_STATE_OF: Record<string, DeliveryState> = {
  pending: DeliveryState.PENDING,
  succeeded: DeliveryState.SUCCEEDED,
  failed: DeliveryState.FAILED,
  skipped: DeliveryState.SKIPPED,
};

function requiredId(id: bigint | undefined, field: string): number {
  if (!id || id <= 0n || id > BigInt(Number.MAX_SAFE_INTEGER)) throw new InvalidArgumentError(field, "is required");
  return Number(id);
}

const ms = (t: Timestamp | undefined) => (t ? timestampMs(t) : undefined);
const ts = (d: Date | null | undefined) => (d ? timestampFromMs(d.getTime()) : undefined);

/** The API's rule as the domain's spec; `partial` skips the checks of fields an update leaves alone. */
function toSpec(r: AlertRule, partial = false): RuleSpec {
  const severity = SEVERITY_NAMES[r.severity];
  if (!severity && !partial) throw new InvalidArgumentError("rule.severity", "must be INFO, WARNING or CRITICAL");
  return {
    name: r.name,
    description: r.description,
    severity: severity ?? "warning",
    devices: {
      codes: r.devices?.codes ?? [],
      numbers: r.devices?.numbers ?? [],
      kinds: r.devices?.kinds ?? [],
      sites: r.devices?.sites ?? [],
      labels: r.devices?.labels ?? {},
    },
    sensors: r.sensors,
    condition: toCondition(r, partial),
    channelIds: r.channelIds.map(Number),
    enabled: r.enabled,
  };
}

function comparison(c: Comparison, field: string): "above" | "below" {
  if (c === Comparison.ABOVE) return "above";
  if (c === Comparison.BELOW) return "below";
  throw new InvalidArgumentError(field, "must be ABOVE or BELOW");
}

function toCondition(r: AlertRule, partial: boolean): Condition {
  const c = r.condition;
  const dur = (d: { seconds: bigint; nanos: number } | undefined) => (d ? durationMs(d as never) : 0);
  switch (c.case) {
    case "threshold":
      return {
        kind: "threshold",
        comparison: comparison(c.value.comparison, "rule.threshold.comparison"),
        value: c.value.value,
        forMs: dur(c.value.for),
        hysteresis: c.value.hysteresis,
      };
    case "rateOfChange":
      return {
        kind: "rate_of_change",
        comparison: comparison(c.value.comparison, "rule.rate_of_change.comparison"),
        perSecond: c.value.perSecond,
        windowMs: dur(c.value.window),
        forMs: dur(c.value.for),
        hysteresis: c.value.hysteresis,
      };
    case "anomaly":
      return {
        kind: "anomaly",
        sensitivity: c.value.sensitivity,
        warmupSamples: c.value.warmupSamples,
        halfLifeSamples: c.value.halfLifeSamples,
      };
    case "absence":
      return { kind: "absence", silentForMs: dur(c.value.silentFor) };
    case "external":
      return { kind: "external", source: c.value.source };
    default:
      if (partial) return { kind: "absence", silentForMs: 0 };
      throw new InvalidArgumentError("rule", "set one condition: threshold, rate_of_change, anomaly or absence");
  }
}

function toRule(r: Rule): AlertRule {
  const c = r.condition;
  const condition =
    c.kind === "threshold"
      ? {
          case: "threshold" as const,
          value: {
            comparison: c.comparison === "above" ? Comparison.ABOVE : Comparison.BELOW,
            value: c.value,
            for: durationFromMs(c.forMs),
            hysteresis: c.hysteresis,
          },
        }
      : c.kind === "rate_of_change"
        ? {
            case: "rateOfChange" as const,
            value: {
              comparison: c.comparison === "above" ? Comparison.ABOVE : Comparison.BELOW,
              perSecond: c.perSecond,
              window: durationFromMs(c.windowMs),
              for: durationFromMs(c.forMs),
              hysteresis: c.hysteresis,
            },
          }
        : c.kind === "anomaly"
          ? {
              case: "anomaly" as const,
              value: {
                sensitivity: c.sensitivity,
                warmupSamples: c.warmupSamples,
                halfLifeSamples: c.halfLifeSamples,
              },
            }
          : c.kind === "absence"
            ? { case: "absence" as const, value: { silentFor: durationFromMs(c.silentForMs) } }
            : { case: "external" as const, value: { source: c.source } };
  return create(AlertRuleSchema, {
    id: BigInt(r.id),
    name: r.name,
    description: r.description,
    severity: SEVERITY_OF[r.severity],
    devices: r.devices,
    sensors: r.sensors,
    condition,
    channelIds: r.channelIds.map(BigInt),
    enabled: r.enabled,
    createTime: ts(r.createdAt),
    updateTime: ts(r.updatedAt),
    createdBy: r.createdBy,
  });
}

export function toQuery(f: AlertFilter | undefined): AlertQuery {
  if (!f) return {};
  const startMs = ms(f.startTime);
  const endMs = ms(f.endTime);
  if (startMs !== undefined && endMs !== undefined && startMs > endMs) {
    throw new InvalidArgumentError("filter.start_time", "must not be after end_time");
  }
  return {
    // Deduplicated: a filter naming one state 100k times must not become 100k bind parameters.
    states: [...new Set(f.states.map((s) => STATE_NAMES[s]).filter((s) => s !== undefined))],
    severities: [...new Set(f.severities.map((s) => SEVERITY_NAMES[s]).filter((s) => s !== undefined))],
    ruleId: f.ruleId ? Number(f.ruleId) : undefined,
    deviceCode: f.deviceCode || undefined,
    deviceNumber: f.deviceNumber,
    sensor: f.sensor || undefined,
    startMs,
    endMs,
  };
}

export function toAlert(a: AlertView): Alert {
  return create(AlertSchema, {
    id: BigInt(a.id),
    ruleId: BigInt(a.ruleId),
    ruleName: a.ruleName,
    severity: SEVERITY_OF[a.severity] ?? Severity.UNSPECIFIED,
    state: STATE_OF[a.state],
    deviceCode: a.device?.code ?? "",
    deviceNumber: a.device?.number ?? 0,
    sensor: a.sensor,
    summary: a.summary,
    startTime: ts(a.startedAt),
    fireTime: ts(a.firedAt),
    acknowledgeTime: ts(a.acknowledgedAt),
    acknowledgedBy: a.acknowledgedBy ?? "",
    acknowledgeComment: a.ackComment ?? "",
    resolveTime: ts(a.resolvedAt),
    resolveReason: a.resolveReason ?? "",
    values: a.values.map(([t, value]) => ({ time: timestampFromMs(t), value })),
    details: a.details as JsonObject,
    silenced: a.silenced,
    updateTime: ts(a.updatedAt),
    version: BigInt(a.version),
    kind: a.kind,
  });
}

function toSilence(s: SilenceRow): Silence {
  const now = Date.now();
  return create(SilenceSchema, {
    id: BigInt(s.id),
    matcher: {
      ruleId: s.rule_id ? BigInt(s.rule_id) : 0n,
      deviceCode: s.device_code ?? "",
      deviceNumber: s.device_number ?? undefined,
      sensor: s.sensor ?? "",
      maxSeverity: s.max_severity ? SEVERITY_OF[s.max_severity] : Severity.UNSPECIFIED,
    },
    startTime: ts(s.starts_at),
    endTime: ts(s.ends_at),
    comment: s.comment,
    createdBy: s.created_by,
    createTime: ts(s.created_at),
    active: s.starts_at.getTime() <= now && s.ends_at.getTime() > now,
  });
}

function toChannel(c: ChannelView): NotificationChannel {
  return create(NotificationChannelSchema, {
    id: BigInt(c.id),
    name: c.name,
    kind: c.kind === "webhook" ? ChannelKind.WEBHOOK : ChannelKind.EMAIL,
    config:
      c.kind === "webhook"
        ? { case: "webhook", value: { url: c.url ?? "" } }
        : { case: "email", value: { to: c.to ?? [] } },
    rateLimitPerMinute: c.ratePerMinute,
    createTime: ts(c.createdAt),
    createdBy: c.createdBy,
  });
}

function toDelivery(d: DeliveryRow): Delivery {
  return create(DeliverySchema, {
    id: BigInt(d.id),
    channelId: BigInt(d.channel_id),
    alertId: d.alert_id ? BigInt(d.alert_id) : 0n,
    event: d.event,
    state: DELIVERY_STATE_OF[d.state],
    messageId: d.message_id,
    attempts: d.attempts,
    createTime: ts(d.created_at),
    nextAttemptTime: d.state === "pending" ? ts(d.next_attempt_at) : undefined,
    deadline: ts(d.deadline_at),
    deliverTime: ts(d.delivered_at),
    lastError: d.last_error ?? "",
    lastStatus: d.last_status ?? 0,
  });
}
