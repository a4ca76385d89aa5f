import { InvalidArgumentError } from "@commander-js/extra-typings";
import { parseDuration } from "@vigil/runtime";

/**
 * Option value parsers for commander: each throws commander's
 * InvalidArgumentError, which the CLI reports as a usage error (exit 2)
 * naming the option.
 */

/** An integer within [min, max]. */
export function integer(min: number, max: number): (text: string) => number {
  return (text) => {
    const n = Number(text);
    if (text.trim() === "" || !Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`must be an integer from ${min} to ${max}`);
    }
    return n;
  };
}

/** A duration such as 30s, 15m, 24h or 7d, in milliseconds. */
export function duration(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new InvalidArgumentError("must look like 30s, 15m, 24h or 7d");
  return ms;
}

/** An ISO 8601 time (2025-01-03 or 2025-01-03T12:00:00Z), in milliseconds since the epoch. */
export function time(text: string): number {
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new InvalidArgumentError("must be an ISO 8601 time such as 2025-01-03T12:00:00Z");
  return ms;
}

/** true or false. */
export function boolean(text: string): boolean {
  if (text !== "true" && text !== "false") throw new InvalidArgumentError("must be true or false");
  return text === "true";
}

/** key=value, collected into a record (for repeated options). */
export function keyValue(text: string, previous: Record<string, string> = {}): Record<string, string> {
  const at = text.indexOf("=");
  if (at < 1) throw new InvalidArgumentError("must be key=value");
  return { ...previous, [text.slice(0, at)]: text.slice(at + 1) };
}

/** An http(s) URL, without trailing slashes. */
export function httpUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InvalidArgumentError("must be a URL such as http://127.0.0.1:8080");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new InvalidArgumentError("must be http or https");
  return url.href.replace(/\/+$/, "");
}
