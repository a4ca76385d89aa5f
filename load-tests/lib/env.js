// Settings from __ENV (k6 -e NAME=value, or the environment), each with a default.
// A bad value stops the run before it starts, naming the setting.

const DURATION = /^(\d+(ms|s|m|h))+$/;

function raw(name) {
  const v = __ENV[name];
  return v === undefined || v === "" ? undefined : v;
}

export function envString(name, fallback) {
  return raw(name) ?? fallback;
}

export function envInt(name, fallback, min = 0, max = Number.MAX_SAFE_INTEGER) {
  const v = raw(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`${name} must be an integer from ${min} to ${max} (got "${v}")`);
  }
  return n;
}

export function envNumber(name, fallback, min = 0, max = Number.MAX_VALUE) {
  const v = raw(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) {
    throw new Error(`${name} must be a number from ${min} to ${max} (got "${v}")`);
  }
  return n;
}

export function envChoice(name, fallback, choices) {
  const v = raw(name) ?? fallback;
  if (!choices.includes(v)) throw new Error(`${name} must be one of ${choices.join(", ")} (got "${v}")`);
  return v;
}

/** A k6 duration such as "30s", "5m", "1h30m" or "500ms". */
export function envDuration(name, fallback) {
  const v = raw(name) ?? fallback;
  if (!DURATION.test(v)) throw new Error(`${name} must be a duration such as 30s, 5m or 1h30m (got "${v}")`);
  return v;
}

/** A comma-separated list. */
export function envList(name, fallback) {
  return envString(name, fallback)
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

export function durationMs(text) {
  const units = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  for (const [, n, unit] of text.matchAll(/(\d+)(ms|s|m|h)/g)) total += Number(n) * units[unit];
  return total;
}
