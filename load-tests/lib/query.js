// Web clients for k6: Connect-JSON calls to the query service as signed-in users — list
// readings with filters, page deep into a listing, bucketed stats — and sign-ins.
import { check, fail } from "k6";
import exec from "k6/execution";
import { Trend } from "k6/metrics";
import { body, failure, login, rpc } from "./connect.js";
import { durationMs, envDuration, envInt, envList, envNumber, envString } from "./env.js";

export const querySettings = {
  deviceCode: envString("QUERY_DEVICE_CODE", ""),
  deviceCount: envInt("QUERY_DEVICE_COUNT", 10, 1, 2_147_483_647),
  sensors: envList("QUERY_SENSORS", "patient.heart_rate_bpm,patient.spo2_pct"),
  windowMs: durationMs(envDuration("QUERY_WINDOW", "15m")),
  pageSize: envInt("QUERY_PAGE_SIZE", 100, 1, 1000),
  deepPages: envInt("QUERY_DEEP_PAGES", 10, 1, 10_000),
  statsBucket: envString("QUERY_STATS_BUCKET", "1m"),
  statsWindowMs: durationMs(envDuration("QUERY_STATS_WINDOW", "1h")),
  mix: parseMix(envString("QUERY_MIX", "list:6,deep:2,stats:2")),
  users: envInt("QUERY_USERS", 5, 1, 25),
  userPrefix: envString("QUERY_USER_PREFIX", "k6-load-"),
  userPassword: envString("QUERY_USER_PASSWORD", "k6-load-test-password"),
  adminUsername: envString("ADMIN_USERNAME", "admin"),
  adminPassword: envString("ADMIN_PASSWORD", ""),
  listP95Ms: envNumber("QUERY_LIST_P95_MS", 500),
  deepPageP95Ms: envNumber("QUERY_DEEP_PAGE_P95_MS", 500),
  statsP95Ms: envNumber("QUERY_STATS_P95_MS", 1000),
  loginP95Ms: envNumber("QUERY_LOGIN_P95_MS", 2000),
  maxFailedRate: envNumber("QUERY_MAX_FAILED_RATE", 0.01, 0, 1),
};
const Q = querySettings;

const pagesFollowed = new Trend("query_deep_pages");

function parseMix(text) {
  const mix = text.split(",").map((part) => {
    const [op, weight] = part.split(":");
    if (!["list", "deep", "stats"].includes(op) || !(Number(weight) >= 0)) {
      throw new Error(`QUERY_MIX must look like list:6,deep:2,stats:2 (got "${text}")`);
    }
    return { op, weight: Number(weight) };
  });
  if (mix.every((m) => m.weight === 0)) throw new Error("QUERY_MIX needs a weight above 0");
  return mix;
}

/** Thresholds that fail the run: p95 per kind of call, failed requests, checks. */
export function queryThresholds() {
  return {
    "http_req_duration{op:list}": [`p(95)<${Q.listP95Ms}`],
    "http_req_duration{op:deep_page}": [`p(95)<${Q.deepPageP95Ms}`],
    "http_req_duration{op:stats}": [`p(95)<${Q.statsP95Ms}`],
    "http_req_duration{op:login}": [`p(95)<${Q.loginP95Ms}`],
    http_req_failed: [`rate<${Q.maxFailedRate}`],
    "checks{step:query}": ["rate>0.99"],
  };
}

/**
 * setup(): QUERY_USERS plain users (created by the admin when missing), each signed in once, so
 * requests spread over several users' rate limits as real traffic does.
 */
export function querySetup() {
  if (!Q.adminPassword) fail("set ADMIN_PASSWORD (and ADMIN_USERNAME) so setup can create the load-test users");
  const admin = login(Q.adminUsername, Q.adminPassword, "setup");
  const users = [];
  for (let i = 1; i <= Q.users; i++) {
    const username = `${Q.userPrefix}${i}`;
    const res = rpc(
      "vigil.auth.v1.AuthService/Register",
      { username, password: Q.userPassword, role: "ROLE_USER" },
      { token: admin.accessToken, op: "setup", allowExisting: true },
    );
    if (res.status !== 200 && res.status !== 409) fail(failure(`register ${username}`, res));
    users.push({ username, ...login(username, Q.userPassword, "setup") });
  }
  return { users };
}

// Per VU: its user's token, renewed by signing in again shortly before it expires.
let session;
const renewAheadMs = 60_000 + Math.random() * 240_000;

function token(data) {
  if (!session) {
    const user = data.users[(exec.vu.idInTest - 1) % data.users.length];
    session = { ...user };
  }
  if (session.expiresAt - Date.now() < renewAheadMs) {
    try {
      Object.assign(session, login(session.username, Q.userPassword, "relogin"));
    } catch (err) {
      console.warn(`could not sign in again as ${session.username}: ${err.message}`);
    }
  }
  return session.accessToken;
}

const pick = (list) => list[Math.floor(Math.random() * list.length)];

function weightedPick(mix) {
  let r = Math.random() * mix.reduce((a, m) => a + m.weight, 0);
  for (const m of mix) {
    r -= m.weight;
    if (r < 0) return m.op;
  }
  return mix[0].op;
}

/** A filter as a web client builds one: a device, a device's sensor, or one sensor across devices. */
function randomFilter(windowMs) {
  const startTime = new Date(Date.now() - windowMs).toISOString();
  const kinds = Q.deviceCode ? ["device", "device_sensor", "sensor"] : ["sensor"];
  switch (pick(kinds)) {
    case "device":
      return { deviceCode: Q.deviceCode, deviceNumber: 1 + Math.floor(Math.random() * Q.deviceCount), startTime };
    case "device_sensor":
      return { deviceCode: Q.deviceCode, sensor: pick(Q.sensors), startTime };
    default:
      return { sensor: pick(Q.sensors), startTime };
  }
}

function listPage(tokenValue, request, op) {
  const res = rpc("vigil.readings.v1.ReadingService/ListReadings", request, { token: tokenValue, op });
  const b = body(res);
  check(res, { [`${op} answers 200 with readings`]: (r) => r.status === 200 && b !== undefined }, { step: "query" });
  return b;
}

/** One web request (or a run of pages), chosen by QUERY_MIX. */
export function queryIteration(data) {
  const t = token(data);
  const op = weightedPick(Q.mix);
  if (op === "list") {
    listPage(t, { filter: randomFilter(Q.windowMs), pageSize: Q.pageSize, order: "ORDER_NEWEST_FIRST" }, "list");
  } else if (op === "deep") {
    // Deep pages: follow next_page_token through an older, larger listing, oldest first.
    const request = {
      filter: Q.deviceCode
        ? { deviceCode: Q.deviceCode, startTime: new Date(Date.now() - Q.statsWindowMs).toISOString() }
        : { startTime: new Date(Date.now() - Q.statsWindowMs).toISOString() },
      pageSize: Q.pageSize,
      order: "ORDER_OLDEST_FIRST",
    };
    let pages = 0;
    while (pages < Q.deepPages) {
      const page = listPage(t, request, "deep_page");
      pages++;
      if (!page?.nextPageToken) break;
      request.pageToken = page.nextPageToken;
    }
    pagesFollowed.add(pages);
  } else {
    const filter = randomFilter(Q.statsWindowMs);
    delete filter.deviceNumber;
    const res = rpc(
      "vigil.readings.v1.ReadingService/GetStats",
      { filter, bucket: Q.statsBucket },
      { token: t, op: "stats" },
    );
    check(res, { "stats answers 200": (x) => x.status === 200 }, { step: "query" });
  }
}

/** A sign-in, as a user opening the web client does (measured as op:login). */
export function loginIteration(data) {
  const user = data.users[exec.scenario.iterationInTest % data.users.length];
  const res = rpc(
    "vigil.auth.v1.AuthService/Login",
    { username: user.username, password: Q.userPassword },
    { op: "login", retries: 0 },
  );
  // A sign-in over the per-user or per-address limit is refused by design, not a failure.
  check(res, { "login answers 200 or a rate limit": (x) => x.status === 200 || x.status === 429 }, { step: "query" });
}
