import { TokenBucket } from "@vigil/runtime";

export interface RateLimit {
  perSecond: number;
  burst: number;
}

/**
 * One token bucket per device on this receiver, shared by the device's
 * streams and kept across its reconnects, sized by the device's own limit
 * when it has one. A bucket is forgotten only once it has refilled to its
 * burst (sweep): then it is the same as a new one, so closing and reopening
 * a stream never earns a device a fresh burst.
 *
 * Replicas do not share buckets: a device holding streams on two receivers
 * at once gets up to twice its rate, and one that reconnects to another
 * replica starts there with that replica's bucket (docs/security.md).
 */
export class RateLimiter {
  private readonly buckets = new Map<number, TokenBucket>();
  private readonly defaults: RateLimit;

  constructor(defaults: RateLimit) {
    this.defaults = defaults;
  }

  /** Sets a device's limit (its override, or the default when undefined), keeping the tokens it has. */
  setLimit(deviceId: number, own: RateLimit | undefined, nowMs: number): void {
    const limit = own ?? this.defaults;
    const bucket = this.buckets.get(deviceId);
    if (bucket) bucket.setLimits(limit.perSecond, limit.burst);
    else this.buckets.set(deviceId, new TokenBucket(limit.perSecond, limit.burst, nowMs));
  }

  /** 0 when `readings` may pass now (and spends them), else the ms to wait. */
  take(deviceId: number, readings: number, nowMs: number): number {
    return this.bucket(deviceId, nowMs).take(readings, nowMs);
  }

  /** Spends tokens for a batch that was answered without waiting (a duplicate, a reject). */
  charge(deviceId: number, tokens: number, nowMs: number): void {
    this.bucket(deviceId, nowMs).charge(tokens, nowMs);
  }

  /** Forgets full buckets of devices without a stream here; returns how many are kept. */
  sweep(nowMs: number, connected: (deviceId: number) => boolean): number {
    for (const [id, bucket] of this.buckets) {
      if (!connected(id) && bucket.isFull(nowMs)) this.buckets.delete(id);
    }
    return this.buckets.size;
  }

  private bucket(deviceId: number, nowMs: number): TokenBucket {
    let bucket = this.buckets.get(deviceId);
    if (!bucket) {
      bucket = new TokenBucket(this.defaults.perSecond, this.defaults.burst, nowMs);
      this.buckets.set(deviceId, bucket);
    }
    return bucket;
  }
}
