import type { DeviceIdentity } from "./simulated-device.ts";

/** One process's part of a fleet split over `count` processes; `index` is 1-based. */
export interface Shard {
  index: number;
  count: number;
}

export const SHARD_PATTERN = /^([1-9][0-9]{0,3})\/([1-9][0-9]{0,3})$/;

/** Parses "i/n" (1 ≤ i ≤ n ≤ 9999); undefined when malformed. */
export function parseShard(text: string): Shard | undefined {
  const m = SHARD_PATTERN.exec(text);
  if (!m) return undefined;
  const index = Number(m[1]);
  const count = Number(m[2]);
  return index <= count ? { index, count } : undefined;
}

/**
 * The devices of one shard: the fleet ordered by code and number, every
 * count-th from position index-1. Every process given the same fleet and
 * its own index gets a disjoint share, and together they cover the fleet,
 * whatever order the devices file lists them in.
 */
export function selectShard(identities: readonly DeviceIdentity[], shard: Shard): DeviceIdentity[] {
  const ordered = [...identities].sort((a, b) => (a.code === b.code ? a.number - b.number : a.code < b.code ? -1 : 1));
  return ordered.filter((_, i) => i % shard.count === shard.index - 1);
}

/** The numbers first..first+total-1 that fall to one shard (for provisioning a shard's own devices). */
export function shardNumbers(first: number, total: number, shard: Shard): number[] {
  const out: number[] = [];
  for (let i = shard.index - 1; i < total; i += shard.count) out.push(first + i);
  return out;
}
