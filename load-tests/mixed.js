// k6: production-like traffic — device streams (ingest.js) and web clients (query.js) in one
// run, each with its own scenario, thresholds and settings. SCENARIO shapes both at once.
//   k6 run -e RECEIVER_ADDR=… -e QUERY_URL=… -e ADMIN_PASSWORD=… load-tests/mixed.js
import exec from "k6/execution";
import { envInt } from "./lib/env.js";
import { ingestSession, ingestSettings, ingestSetup, ingestThresholds } from "./lib/ingest.js";
import { loginIteration, queryIteration, querySetup, queryThresholds } from "./lib/query.js";
import { maxVUsOf, plannedMs, rateScenario, SCENARIO, vuScenario } from "./lib/scenarios.js";
import { summaryHandler } from "./lib/summary.js";

const smoke = SCENARIO === "smoke";
const ingestVUs = envInt("INGEST_VUS", smoke ? 2 : 100, 1, 100_000);
const rate = envInt("QUERY_RATE", smoke ? 5 : 20, 1, 100_000);
const vus = envInt("QUERY_VUS", smoke ? 5 : 20, 1, 100_000);
const maxVUs = envInt("QUERY_MAX_VUS", Math.max(vus, smoke ? 10 : 100), vus, 100_000);
const loginsPerMin = envInt("QUERY_LOGINS_PER_MIN", 2, 0, 600);

const scenarios = {
  ingest: vuScenario("ingest", ingestVUs, `${ingestSettings.ackWaitSeconds + 5}s`),
  query: rateScenario("query", rate, vus, maxVUs),
};
if (loginsPerMin > 0) scenarios.login = rateScenario("login", loginsPerMin, 1, 2, "1m");
const constant = scenarios.ingest.executor === "constant-vus";

export const options = {
  scenarios,
  thresholds: { ...ingestThresholds(), ...queryThresholds() },
  setupTimeout: "5m",
  summaryTrendStats: ["med", "p(95)", "p(99)", "max", "count"],
};

export function setup() {
  // VU ids are shared by all scenarios: a device for every VU the run may start.
  const needed = Object.values(scenarios).reduce((n, s) => n + maxVUsOf(s), 0);
  return { ...ingestSetup(needed), ...querySetup() };
}

export function ingest(data) {
  const left = constant ? exec.scenario.startTime + plannedMs() - Date.now() : undefined;
  ingestSession(data, left);
}

export const query = queryIteration;
export const login = loginIteration;
export const handleSummary = summaryHandler("mixed");
