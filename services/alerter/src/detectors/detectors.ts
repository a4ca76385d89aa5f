import type { ConditionKind } from "@vigil/alerts";
import { absenceDetector } from "./absence.ts";
import { anomalyDetector } from "./anomaly.ts";
import type { AnyDetector } from "./detector.ts";
import { rateOfChangeDetector } from "./rate-of-change.ts";
import { thresholdDetector } from "./threshold.ts";

/** Every detector kind, by condition kind: a new kind is one line here. */
const DETECTORS: Partial<Record<ConditionKind, AnyDetector>> = {
  threshold: thresholdDetector as AnyDetector,
  rate_of_change: rateOfChangeDetector as AnyDetector,
  anomaly: anomalyDetector as AnyDetector,
  absence: absenceDetector as AnyDetector,
};

/** The detector of a condition kind; undefined for kinds raised elsewhere (external). */
export function detectorFor(kind: ConditionKind): AnyDetector | undefined {
  return DETECTORS[kind];
}
