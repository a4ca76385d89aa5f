import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * Device API keys look like `vgl_<prefix>_<secret>`: the prefix is public
 * and finds the stored row, the secret carries 256 bits of entropy. Only the
 * SHA-256 of the whole key is stored: with that much entropy a fast hash is
 * safe, and it keeps per-connection verification cheap.
 */
const KEY_PATTERN = /^vgl_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$/;

export interface IssuedKey {
  /** The full key, shown to the operator once and never stored. */
  key: string;
  prefix: string;
  hash: Buffer;
}

const PREFIX_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";

export function generateApiKey(): IssuedKey {
  // The prefix only has to be unique, not secret: a slight modulo bias is fine.
  const prefix = Array.from(randomBytes(12), (b) => PREFIX_ALPHABET[b % PREFIX_ALPHABET.length]).join("");
  const key = `vgl_${prefix}_${randomBytes(32).toString("base64url")}`;
  return { key, prefix, hash: hashApiKey(key) };
}

/** The lookup prefix of a well-formed key, or undefined. */
export function apiKeyPrefix(key: string): string | undefined {
  return KEY_PATTERN.exec(key)?.[1];
}

export function hashApiKey(key: string): Buffer {
  return createHash("sha256").update(key).digest();
}

/** Compares in constant time. */
export function apiKeyMatches(key: string, storedHash: Buffer): boolean {
  const hash = hashApiKey(key);
  return hash.length === storedHash.length && timingSafeEqual(hash, storedHash);
}
