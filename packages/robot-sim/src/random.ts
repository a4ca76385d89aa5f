import { createHash } from "node:crypto";

/** mulberry32: a small, fast, seedable PRNG; the same seed gives the same run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A 32-bit seed from any parts (FNV-1a of their text). */
export function seedOf(...parts: Array<string | number>): number {
  let h = 2166136261;
  const s = parts.join("\u0000");
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** A PRNG for one named thing: the same names give the same numbers on every run. */
export function randomFor(...parts: Array<string | number>): () => number {
  return seededRandom(seedOf(...parts));
}

/** Standard normal, Box–Muller. */
export function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** Uniform in [lo, hi). */
export function uniform(random: () => number, lo: number, hi: number): number {
  return lo + (hi - lo) * random();
}

/** A UUID derived from names (SHA-256, version 8): stable across runs, so reruns upsert instead of duplicating. */
export function stableUuid(...parts: Array<string | number>): string {
  const h = createHash("sha256").update(parts.join("\u0000")).digest("hex");
  const variant = ((Number.parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** A pseudonymous identifier in the coded form, such as "PT-7F3A9C21". */
export function codedId(prefix: string, random: () => number): string {
  let out = "";
  for (let i = 0; i < 8; i++) out += "0123456789ABCDEF"[Math.floor(random() * 16)];
  return /[0-9]/.test(out) ? `${prefix}-${out}` : `${prefix}-${out.slice(0, 7)}0`;
}
