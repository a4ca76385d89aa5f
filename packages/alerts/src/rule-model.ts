import { AlertError } from "./alert-error.ts";

export type Severity = "info" | "warning" | "critical";
export const SEVERITIES: readonly Severity[] = ["info", "warning", "critical"];
export type Comparison = "above" | "below";

/** Picks devices: set fields combine with AND, values within a field with OR; empty picks all. */
export interface DeviceSelector {
  codes?: string[];
  numbers?: number[];
  kinds?: string[];
  sites?: string[];
  labels?: Record<string, string>;
}

export interface ThresholdCondition {
  kind: "threshold";
  comparison: Comparison;
  value: number;
  forMs: number;
  hysteresis: number;
}

export interface RateOfChangeCondition {
  kind: "rate_of_change";
  comparison: Comparison;
  perSecond: number;
  windowMs: number;
  forMs: number;
  hysteresis: number;
}

export interface AnomalyCondition {
  kind: "anomaly";
  /** z-score that fires. */
  sensitivity: number;
  warmupSamples: number;
  halfLifeSamples: number;
}

export interface AbsenceCondition {
  kind: "absence";
  silentForMs: number;
}

/** Alerts raised by another service (fleet: "maintenance"; the alerter itself: "alerter"). */
export interface ExternalCondition {
  kind: "external";
  source: string;
}

export type Condition =
  | ThresholdCondition
  | RateOfChangeCondition
  | AnomalyCondition
  | AbsenceCondition
  | ExternalCondition;
export type ConditionKind = Condition["kind"];

/** What a user states about a rule. */
export interface RuleSpec {
  name: string;
  description: string;
  severity: Severity;
  devices: DeviceSelector;
  /** Sensor names; empty: every sensor (absence: the device as a whole). */
  sensors: string[];
  condition: Condition;
  channelIds: number[];
  enabled: boolean;
}

/** A stored rule. */
export interface Rule extends RuleSpec {
  id: number;
  createdBy: string;
  createdAt: Date;
  updatedAt: Date;
  version: number;
}

export const ANOMALY_DEFAULTS = { sensitivity: 6, warmupSamples: 100, halfLifeSamples: 5 } as const;
export const RATE_WINDOW_DEFAULT_MS = 10_000;
const DAY_MS = 86_400_000;
const MAX_LIST = 1_000;
const SENSOR_NAME = /^[A-Za-z0-9_.:/-]{1,128}$/;
const SOURCE_NAME = /^[a-z0-9_-]{1,64}$/;
const CODE = /^[A-Z]{1,16}$/;

/** Fills defaults and checks every bound; throws AlertError("invalid") naming the field. */
export function validateRuleSpec(spec: RuleSpec): RuleSpec {
  const bad = (field: string, problem: string): never => {
    throw new AlertError("invalid", `${field}: ${problem}`);
  };
  const name = spec.name.trim();
  if (name.length < 1 || name.length > 200) bad("name", "must be 1 to 200 characters");
  if (spec.description.length > 2_000) bad("description", "must be at most 2000 characters");
  if (!SEVERITIES.includes(spec.severity)) bad("severity", "must be info, warning or critical");
  const d = spec.devices;
  for (const [field, list] of Object.entries({ codes: d.codes, numbers: d.numbers, kinds: d.kinds, sites: d.sites })) {
    if ((list?.length ?? 0) > MAX_LIST) bad(`devices.${field}`, `at most ${MAX_LIST} values`);
  }
  for (const c of d.codes ?? []) if (!CODE.test(c)) bad("devices.codes", `"${c}" is not 1 to 16 capital letters`);
  for (const n of d.numbers ?? [])
    if (!Number.isInteger(n) || n < 1) bad("devices.numbers", "must be positive integers");
  for (const v of [...(d.kinds ?? []), ...(d.sites ?? [])])
    if (v.length > 200) bad("devices", "values up to 200 characters");
  if (Object.keys(d.labels ?? {}).length > 64) bad("devices.labels", "at most 64 labels");
  if (spec.sensors.length > MAX_LIST) bad("sensors", `at most ${MAX_LIST} sensors`);
  for (const s of spec.sensors) if (!SENSOR_NAME.test(s)) bad("sensors", `"${s}" is not a sensor name`);
  if (spec.channelIds.length > 20) bad("channel_ids", "at most 20 channels");
  for (const id of spec.channelIds) if (!Number.isSafeInteger(id) || id < 1) bad("channel_ids", "must be channel ids");
  const condition = validateCondition(spec.condition, bad);
  return { ...spec, name, condition, sensors: [...new Set(spec.sensors)], channelIds: [...new Set(spec.channelIds)] };
}

function validateCondition(c: Condition, bad: (field: string, problem: string) => never): Condition {
  const finite = (field: string, v: number) => {
    if (!Number.isFinite(v)) bad(field, "must be a finite number");
  };
  const forMs = (field: string, ms: number) => {
    if (!Number.isInteger(ms) || ms < 0 || ms > DAY_MS) bad(field, "must be from 0 to 24 hours");
  };
  const comparison = (v: string) => {
    if (v !== "above" && v !== "below") bad("condition.comparison", "must be ABOVE or BELOW");
  };
  switch (c.kind) {
    case "threshold":
      comparison(c.comparison);
      finite("threshold.value", c.value);
      forMs("threshold.for", c.forMs);
      finite("threshold.hysteresis", c.hysteresis);
      if (c.hysteresis < 0) bad("threshold.hysteresis", "must not be negative");
      return c;
    case "rate_of_change": {
      comparison(c.comparison);
      finite("rate_of_change.per_second", c.perSecond);
      if (c.perSecond <= 0) bad("rate_of_change.per_second", "must be above 0");
      const windowMs = c.windowMs || RATE_WINDOW_DEFAULT_MS;
      if (windowMs < 100 || windowMs > 3_600_000) bad("rate_of_change.window", "must be from 100 ms to 1 hour");
      forMs("rate_of_change.for", c.forMs);
      finite("rate_of_change.hysteresis", c.hysteresis);
      if (c.hysteresis < 0 || c.hysteresis >= c.perSecond)
        bad("rate_of_change.hysteresis", "must be from 0 to below per_second");
      return { ...c, windowMs };
    }
    case "anomaly": {
      const sensitivity = c.sensitivity || ANOMALY_DEFAULTS.sensitivity;
      const warmupSamples = c.warmupSamples || ANOMALY_DEFAULTS.warmupSamples;
      const halfLifeSamples = c.halfLifeSamples || ANOMALY_DEFAULTS.halfLifeSamples;
      if (!(sensitivity >= 2 && sensitivity <= 50)) bad("anomaly.sensitivity", "must be from 2 to 50");
      if (!Number.isInteger(warmupSamples) || warmupSamples < 10 || warmupSamples > 100_000)
        bad("anomaly.warmup_samples", "must be from 10 to 100000");
      if (!(halfLifeSamples >= 2 && halfLifeSamples <= 100_000))
        bad("anomaly.half_life_samples", "must be from 2 to 100000");
      return { kind: "anomaly", sensitivity, warmupSamples, halfLifeSamples };
    }
    case "absence":
      if (!Number.isInteger(c.silentForMs) || c.silentForMs < 1_000 || c.silentForMs > 7 * DAY_MS)
        bad("absence.silent_for", "must be from 1 second to 7 days");
      return c;
    case "external":
      if (!SOURCE_NAME.test(c.source)) bad("external.source", "must be 1 to 64 of a-z, 0-9, - and _");
      return c;
    default:
      return bad("condition", "is required: threshold, rate_of_change, anomaly, absence or external");
  }
}

/** A device as rules see it. */
export interface DeviceFacts {
  code: string;
  number: number;
  kind: string;
  site: string;
  labels: Record<string, string>;
}

/** True when the selector picks the device. */
export function selects(selector: DeviceSelector, d: DeviceFacts): boolean {
  if (selector.codes?.length && !selector.codes.includes(d.code)) return false;
  if (selector.numbers?.length && !selector.numbers.includes(d.number)) return false;
  if (selector.kinds?.length && !selector.kinds.includes(d.kind)) return false;
  if (selector.sites?.length && !selector.sites.includes(d.site)) return false;
  for (const [k, v] of Object.entries(selector.labels ?? {})) if (d.labels[k] !== v) return false;
  return true;
}

/** "CODE-N", or "" for no device. */
export function deviceLabel(d: { code: string; number: number } | undefined): string {
  return d ? `${d.code}-${d.number}` : "";
}
