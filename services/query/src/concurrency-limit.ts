/**
 * Long-lived work (watch streams) counted while it runs: at most `perKey`
 * at once for one key (a user, an address) and `total` in all. Memory
 * follows the keys with work running.
 */
export class ConcurrencyLimit {
  private readonly running = new Map<string, number>();
  private all = 0;
  readonly perKey: number;
  readonly total: number;

  constructor(perKey: number, total = Number.POSITIVE_INFINITY) {
    this.perKey = perKey;
    this.total = total;
  }

  /** A release function when there is room for `key`, else undefined. Release exactly once. */
  acquire(key: string): (() => void) | undefined {
    const n = this.running.get(key) ?? 0;
    if (n >= this.perKey || this.all >= this.total) return undefined;
    this.running.set(key, n + 1);
    this.all++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.all--;
      const left = (this.running.get(key) ?? 1) - 1;
      if (left === 0) this.running.delete(key);
      else this.running.set(key, left);
    };
  }
}
