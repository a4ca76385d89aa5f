import { createHash } from "node:crypto";
import { InvalidArgumentError } from "./errors.ts";

/** Where the next page starts: the sort key of the last row returned. */
export interface PageCursor {
  timeMs: number;
  deviceId: number;
  sensorId: number;
}

interface TokenBody {
  /** Fingerprint of the request the token belongs to. */
  f: string;
  t: number;
  d: number;
  s: number;
  /** total_size computed for the first page, repeated on later pages. */
  n: number;
}

/**
 * Opaque page tokens (AIP-158): base64url JSON with the keyset cursor and a
 * fingerprint of the request, so a token reused with another filter or order
 * is refused instead of returning a wrong page.
 */
export function encodePageToken(request: unknown, cursor: PageCursor, total: number): string {
  const body: TokenBody = {
    f: fingerprint(request),
    t: cursor.timeMs,
    d: cursor.deviceId,
    s: cursor.sensorId,
    n: total,
  };
  return Buffer.from(JSON.stringify(body)).toString("base64url");
}

export function decodePageToken(token: string, request: unknown): { cursor: PageCursor; total: number } {
  let body: TokenBody;
  try {
    body = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw new InvalidArgumentError("page_token", "is not a token this service issued");
  }
  const numbers = [body?.t, body?.d, body?.s, body?.n];
  if (typeof body?.f !== "string" || !numbers.every((n) => Number.isSafeInteger(n))) {
    throw new InvalidArgumentError("page_token", "is not a token this service issued");
  }
  if (body.f !== fingerprint(request)) {
    throw new InvalidArgumentError("page_token", "belongs to a request with a different filter or order");
  }
  return { cursor: { timeMs: body.t, deviceId: body.d, sensorId: body.s }, total: body.n };
}

function fingerprint(request: unknown): string {
  return createHash("sha256").update(JSON.stringify(request)).digest("base64url").slice(0, 16);
}
