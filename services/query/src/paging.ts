import { createHash } from "node:crypto";
import { InvalidArgumentError } from "./errors.ts";

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

/** page_size: 0 means the default; 1 to MAX_PAGE_SIZE otherwise. */
export function checkedPageSize(size: number): number {
  if (size === 0) return DEFAULT_PAGE_SIZE;
  if (size < 0 || size > MAX_PAGE_SIZE) {
    throw new InvalidArgumentError(
      "page_size",
      `must be between 0 and ${MAX_PAGE_SIZE} (0 means ${DEFAULT_PAGE_SIZE})`,
    );
  }
  return size;
}

/**
 * Opaque page tokens (AIP-158): base64url JSON of a keyset cursor plus a
 * fingerprint of the request's other fields, so a token reused with another
 * filter or order is refused instead of returning a wrong page.
 */
export function encodeCursor(cursor: unknown, request: unknown): string {
  return Buffer.from(JSON.stringify({ f: fingerprint(request), c: cursor })).toString("base64url");
}

export function decodeCursor<T>(token: string, request: unknown, isCursor: (c: unknown) => c is T): T {
  let body: { f?: unknown; c?: unknown };
  try {
    body = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw new InvalidArgumentError("page_token", "is not a token this service issued");
  }
  if (typeof body?.f !== "string" || !isCursor(body.c)) {
    throw new InvalidArgumentError("page_token", "is not a token this service issued");
  }
  if (body.f !== fingerprint(request)) {
    throw new InvalidArgumentError("page_token", "belongs to a request with a different filter or order");
  }
  return body.c;
}

/** The request without its paging fields, hashed. */
function fingerprint(request: unknown): string {
  const rest = Object.fromEntries(
    Object.entries(request as Record<string, unknown>).filter(
      ([k]) => !["pageToken", "pageSize", "$typeName"].includes(k),
    ),
  );
  return createHash("sha256")
    .update(JSON.stringify(rest, (_k, v) => (typeof v === "bigint" ? v.toString() : v)))
    .digest("base64url")
    .slice(0, 16);
}

/** True when every named field of `c` is a safe integer (cursor validation). */
export function hasIntegers(c: unknown, ...fields: string[]): boolean {
  return (
    typeof c === "object" && c !== null && fields.every((f) => Number.isSafeInteger((c as Record<string, unknown>)[f]))
  );
}
