// k6: device streams against a receiver. One VU is one device holding IngestService/Stream
// sessions; SCENARIO=smoke|steady|ramp|spike|soak shapes how many at once. Settings and
// scenarios: load-tests/README.md and load-tests/scenarios/.
//   k6 run -e RECEIVER_ADDR=127.0.0.1:50051 -e DEVICES_FILE=$PWD/devices.json load-tests/ingest.js
import exec from "k6/execution";
import { envInt } from "./lib/env.js";
import { ingestSession, ingestSettings, ingestSetup, ingestThresholds } from "./lib/ingest.js";
import { maxVUsOf, plannedMs, SCENARIO, vuScenario } from "./lib/scenarios.js";
import { summaryHandler } from "./lib/summary.js";

const peak = envInt("INGEST_VUS", SCENARIO === "smoke" ? 2 : 100, 1, 100_000);
const graceful = `${ingestSettings.ackWaitSeconds + 5}s`;
const scenario = vuScenario("ingest", peak, graceful);
const constant = scenario.executor === "constant-vus";

export const options = {
  scenarios: { ingest: scenario },
  thresholds: ingestThresholds(),
  setupTimeout: "5m",
  summaryTrendStats: ["med", "p(95)", "p(99)", "max", "count"],
};

export function setup() {
  return ingestSetup(maxVUsOf(scenario));
}

export function ingest(data) {
  // A fixed-length run ends on time: the last session is cut to what is left of it.
  const left = constant ? exec.scenario.startTime + plannedMs() - Date.now() : undefined;
  ingestSession(data, left);
}

export const handleSummary = summaryHandler("ingest");
