/**
 * A token bucket in readings: `perSecond` tokens accrue up to `burst`. take()
 * either spends the tokens or says how long until they would be there, so
 * a device over its rate is told when to retry instead of being dropped.
 */
export class TokenBucket {
  private tokens: number;
  private updatedMs: number;
  private perSecond: number;
  private burst: number;

  constructor(perSecond: number, burst: number, nowMs: number) {
    this.perSecond = perSecond;
    this.burst = burst;
    this.tokens = burst;
    this.updatedMs = nowMs;
  }

  /** Spends `n` tokens and returns 0, or returns the ms to wait before n are available (spending nothing). */
  take(n: number, nowMs: number): number {
    this.refill(nowMs);
    // A batch larger than the burst could never pass: let it through on a full bucket.
    const needed = Math.min(n, this.burst);
    if (this.tokens >= needed) {
      this.tokens -= n;
      return 0;
    }
    return Math.ceil(((needed - this.tokens) / this.perSecond) * 1000);
  }

  /** Gives back `n` tokens taken for work that turned out free (never above the burst). */
  refund(n: number, nowMs: number): void {
    this.refill(nowMs);
    this.tokens = Math.min(this.burst, this.tokens + n);
  }

  /**
   * Spends `n` tokens whatever the balance (a batch already looked at, such
   * as one that is rejected), going into debt down to minus one burst: the
   * device's next batches wait for it to be paid back.
   */
  charge(n: number, nowMs: number): void {
    this.refill(nowMs);
    this.tokens = Math.max(-this.burst, this.tokens - n);
  }

  /** True once the bucket has refilled to its burst: it is then the same as a new one. */
  isFull(nowMs: number): boolean {
    this.refill(nowMs);
    return this.tokens >= this.burst;
  }

  /** Applies new limits (a per-device override changed), keeping the tokens already earned. */
  setLimits(perSecond: number, burst: number): void {
    this.perSecond = perSecond;
    this.burst = burst;
    this.tokens = Math.min(this.tokens, burst);
  }

  private refill(nowMs: number): void {
    const elapsed = Math.max(0, nowMs - this.updatedMs);
    this.tokens = Math.min(this.burst, this.tokens + (elapsed / 1000) * this.perSecond);
    this.updatedMs = nowMs;
  }
}
