import { TokenBucket } from "@vigil/runtime";

export interface RateLimit {
  perSecond: number;
  burst: number;
}

/**
 * One token bucket per device on this receiver, shared by the device's
 * streams, sized by the device's own limit when it has one. Replicas do not
 * share buckets: a device spread over two receivers gets up to twice its
 * rate, which one stream per device makes rare.
 */
export class RateLimiter {
  private readonly buckets = new Map<number, TokenBucket>();
  private readonly defaults: RateLimit;

  constructor(defaults: RateLimit) {
    this.defaults = defaults;
  }

  /** Sets a device's limit (its override, or the default when undefined). */
  setLimit(deviceId: number, own: RateLimit | undefined, nowMs: number): void {
    const limit = own ?? this.defaults;
    const bucket = this.buckets.get(deviceId);
    if (bucket) bucket.setLimits(limit.perSecond, limit.burst);
    else this.buckets.set(deviceId, new TokenBucket(limit.perSecond, limit.burst, nowMs));
  }

  /** 0 when `readings` may pass now, else the ms to wait. */
  take(deviceId: number, readings: number, nowMs: number): number {
    let bucket = this.buckets.get(deviceId);
    if (!bucket) {
      bucket = new TokenBucket(this.defaults.perSecond, this.defaults.burst, nowMs);
      this.buckets.set(deviceId, bucket);
    }
    return bucket.take(readings, nowMs);
  }

  /** Drops a device's bucket once it has no stream here. */
  forget(deviceId: number): void {
    this.buckets.delete(deviceId);
  }
}
