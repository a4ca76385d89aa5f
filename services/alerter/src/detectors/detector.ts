import type { Condition, ConditionKind } from "@vigil/alerts";

/** Which rule, device and sensor a state belongs to, for summaries. */
export interface SeriesContext {
  ruleName: string;
  device: string;
  sensor: string;
}

/** What a detector decided about one reading (or a clock tick). */
export type Verdict =
  | {
      fire: {
        /** Event time of the first reading that fired it. */
        startedAtMs: number;
        values: Array<[number, number]>;
        details: Record<string, unknown>;
        summary: string;
      };
    }
  | { resolve: { atMs: number; reason: string } };

/**
 * One kind of condition, evaluated on one series (rule × device × sensor)
 * in event-time order. State is plain JSON: it is checkpointed as it is,
 * and a replica taking over the series goes on from it. A new kind is one
 * file here and one line in `detectors.ts`.
 */
export interface Detector<C extends Condition = Condition, S = unknown> {
  readonly kind: C["kind"];
  create(condition: C, startMs: number): S;
  /** One reading, strictly later than the previous one of the series. */
  observe(condition: C, state: S, t: number, v: number, ctx: SeriesContext): Verdict | undefined;
  /** Time (event time) moved on to `clockMs` whether readings came or not. */
  tick?(condition: C, state: S, clockMs: number, ctx: SeriesContext): Verdict | undefined;
}

export type AnyDetector = Detector<Condition, unknown>;
export type DetectorKind = Exclude<ConditionKind, "external">;

/** Rounds for summaries: at most 4 significant decimals. */
export function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
}

/** Human duration for summaries: 30s, 2m, 1h30m. */
export function fmtDuration(ms: number): string {
  if (ms < 1_000) return `${ms}ms`;
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 120) return `${m}m${s % 60 ? `${s % 60}s` : ""}`;
  return `${Math.floor(m / 60)}h${m % 60 ? `${m % 60}m` : ""}`;
}

export const MAX_VALUES = 20;
