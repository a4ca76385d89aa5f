// Connect-JSON over k6/http: a POST of a JSON body to /<package.Service>/<Method>.
import { sleep } from "k6";
import http from "k6/http";
import { envString } from "./env.js";

export const QUERY_URL = envString("QUERY_URL", "http://127.0.0.1:8080").replace(/\/+$/, "");

// Response callbacks are made once, in the init context.
const expected = {
  ok: http.expectedStatuses(200),
  okOrExists: http.expectedStatuses(200, 409),
};

/**
 * Calls `service/Method` (e.g. "vigil.auth.v1.AuthService/Login") and returns the response;
 * `op` tags its metrics (http_req_duration{op:list}); `allowExisting` counts AlreadyExists as
 * expected. ResourceExhausted (a rate limit) is waited out and retried, up to `retries` times.
 */
export function rpc(method, body, { token, op, allowExisting = false, retries = 3 } = {}) {
  const params = {
    headers: { "content-type": "application/json" },
    tags: { op: op ?? method.split("/")[1], name: method },
    responseCallback: allowExisting ? expected.okOrExists : expected.ok,
    timeout: "30s",
  };
  if (token) params.headers.authorization = `Bearer ${token}`;
  let res = http.post(`${QUERY_URL}/${method}`, JSON.stringify(body), params);
  for (let attempt = 0; res.status === 429 && attempt < retries; attempt++) {
    sleep(Math.min(60, Number(res.headers["Retry-After"] ?? 1)));
    res = http.post(`${QUERY_URL}/${method}`, JSON.stringify(body), params);
  }
  return res;
}

/** The JSON body, or undefined when there is none. */
export function body(res) {
  try {
    return res.json();
  } catch {
    return undefined;
  }
}

/** A one-line description of a failed call, for errors and logs. */
export function failure(method, res) {
  const b = body(res);
  return `${method}: HTTP ${res.status} ${b?.code ?? ""} ${b?.message ?? res.error ?? ""}`.trim();
}

/** Signs in over AuthService/Login; returns { accessToken, expiresAt (ms) } or throws. */
export function login(username, password, op = "login") {
  const res = rpc("vigil.auth.v1.AuthService/Login", { username, password }, { op });
  const tokens = body(res)?.tokens;
  if (res.status !== 200 || !tokens) throw new Error(failure("Login", res));
  return { accessToken: tokens.accessToken, expiresAt: Date.parse(tokens.accessTokenExpireTime) };
}
