// k6: web clients against the query service over Connect-JSON — readings listed with filters,
// deep pages, stats — plus a trickle of sign-ins. SCENARIO=smoke|steady|ramp|spike|soak shapes
// the request rate. Settings and scenarios: load-tests/README.md and load-tests/scenarios/.
//   k6 run -e QUERY_URL=http://127.0.0.1:8080 -e ADMIN_PASSWORD=… load-tests/query.js
import { envInt } from "./lib/env.js";
import { loginIteration, queryIteration, querySetup, queryThresholds } from "./lib/query.js";
import { rateScenario, SCENARIO } from "./lib/scenarios.js";
import { summaryHandler } from "./lib/summary.js";

const smoke = SCENARIO === "smoke";
const rate = envInt("QUERY_RATE", smoke ? 5 : 20, 1, 100_000);
const vus = envInt("QUERY_VUS", smoke ? 5 : 20, 1, 100_000);
const maxVUs = envInt("QUERY_MAX_VUS", Math.max(vus, smoke ? 10 : 100), vus, 100_000);
const loginsPerMin = envInt("QUERY_LOGINS_PER_MIN", 2, 0, 600);

const scenarios = { query: rateScenario("query", rate, vus, maxVUs) };
if (loginsPerMin > 0) scenarios.login = rateScenario("login", loginsPerMin, 1, 2, "1m");

export const options = {
  scenarios,
  thresholds: queryThresholds(),
  setupTimeout: "2m",
  summaryTrendStats: ["med", "p(95)", "p(99)", "max", "count"],
};

export const setup = querySetup;
export const query = queryIteration;
export const login = loginIteration;
export const handleSummary = summaryHandler("query");
