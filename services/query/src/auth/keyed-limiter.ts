import { TokenBucket } from "@vigil/runtime";

/**
 * Token buckets by key (a username, an address, a user id), each allowing
 * `burst` at once and `perMinute` sustained. Idle buckets are dropped once
 * they would be full again, so memory follows active keys only. Per
 * replica: N query replicas allow up to N times the rate.
 */
export class KeyedLimiter {
  private readonly buckets = new Map<string, { bucket: TokenBucket; lastMs: number }>();
  private readonly perSecond: number;
  private readonly burst: number;
  private lastSweepMs = 0;

  constructor(perMinute: number, burst: number) {
    this.perSecond = perMinute / 60;
    this.burst = burst;
  }

  /** 0 when allowed (and counted), else the ms until it would be. */
  take(key: string, nowMs = Date.now()): number {
    this.sweep(nowMs);
    let entry = this.buckets.get(key);
    if (!entry) {
      entry = { bucket: new TokenBucket(this.perSecond, this.burst, nowMs), lastMs: nowMs };
      this.buckets.set(key, entry);
    }
    entry.lastMs = nowMs;
    return entry.bucket.take(1, nowMs);
  }

  /** Gives back what take() counted for `key` (the attempt turned out not to count). */
  refund(key: string, nowMs = Date.now()): void {
    this.buckets.get(key)?.bucket.refund(1, nowMs);
  }

  private sweep(nowMs: number): void {
    const refillMs = (this.burst / this.perSecond) * 1000;
    if (nowMs - this.lastSweepMs < refillMs) return;
    this.lastSweepMs = nowMs;
    for (const [key, entry] of this.buckets) if (nowMs - entry.lastMs > refillMs) this.buckets.delete(key);
  }
}
