// The five load shapes every script offers (SCENARIO=smoke|steady|ramp|spike|soak), as k6
// scenarios: device streams are VUs (one VU holds one device's stream), web requests are an
// arrival rate (iterations per second, whatever the latency).
import { durationMs, envChoice, envDuration, envNumber } from "./env.js";

export const SCENARIOS = ["smoke", "steady", "ramp", "spike", "soak"];
export const SCENARIO = envChoice("SCENARIO", "smoke", SCENARIOS);

const DEFAULT_DURATION = { smoke: "20s", steady: "5m", soak: "1h" };

/**
 * The chosen scenario's shape as fractions of the peak load:
 * constant (smoke, steady, soak) for DURATION, or stages (ramp, spike).
 */
function shape() {
  if (SCENARIO in DEFAULT_DURATION) {
    return { duration: envDuration("DURATION", DEFAULT_DURATION[SCENARIO]) };
  }
  if (SCENARIO === "ramp") {
    return {
      start: 0,
      stages: [
        { duration: envDuration("RAMP_UP", "2m"), target: 1 },
        { duration: envDuration("HOLD", "3m"), target: 1 },
        { duration: envDuration("RAMP_DOWN", "30s"), target: 0 },
      ],
    };
  }
  // spike: a baseline, a sudden jump to the peak, a hold, back to the baseline and a recovery.
  const base = envNumber("SPIKE_BASELINE", 0.1, 0, 1);
  const rise = envDuration("SPIKE_RISE", "10s");
  return {
    start: base,
    stages: [
      { duration: envDuration("SPIKE_BEFORE", "1m"), target: base },
      { duration: rise, target: 1 },
      { duration: envDuration("HOLD", "1m"), target: 1 },
      { duration: rise, target: base },
      { duration: envDuration("SPIKE_AFTER", "1m"), target: base },
    ],
  };
}

/** Total planned length of the chosen scenario, in ms (without graceful stops). */
export function plannedMs() {
  const s = shape();
  return s.duration ? durationMs(s.duration) : s.stages.reduce((t, st) => t + durationMs(st.duration), 0);
}

/** A VU-based scenario: `peak` VUs at the top; `graceful` lets an iteration (a stream session) finish. */
export function vuScenario(exec, peak, graceful) {
  const s = shape();
  if (s.duration) {
    return { executor: "constant-vus", exec, vus: peak, duration: s.duration, gracefulStop: graceful };
  }
  return {
    executor: "ramping-vus",
    exec,
    startVUs: Math.round(s.start * peak),
    stages: s.stages.map((st) => ({ duration: st.duration, target: Math.round(st.target * peak) })),
    gracefulRampDown: graceful,
    gracefulStop: graceful,
  };
}

/** An arrival-rate scenario: `peak` iterations per `timeUnit` at the top, with a pool of VUs. */
export function rateScenario(exec, peak, vus, maxVUs, timeUnit = "1s") {
  const s = shape();
  const common = { exec, timeUnit, preAllocatedVUs: vus, maxVUs, gracefulStop: "10s" };
  if (s.duration) return { executor: "constant-arrival-rate", rate: peak, duration: s.duration, ...common };
  return {
    executor: "ramping-arrival-rate",
    startRate: Math.round(s.start * peak),
    stages: s.stages.map((st) => ({ duration: st.duration, target: Math.round(st.target * peak) })),
    ...common,
  };
}

/** The most VUs a scenario can use at once. */
export function maxVUsOf(scenario) {
  if (scenario.maxVUs !== undefined) return scenario.maxVUs;
  if (scenario.vus !== undefined) return scenario.vus;
  return Math.max(scenario.startVUs ?? 0, ...scenario.stages.map((s) => s.target));
}
