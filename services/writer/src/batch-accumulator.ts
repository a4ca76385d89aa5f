/**
 * Collects items until `maxWeight` is reached or `maxWaitMs` has passed
 * since the first one, then hands the group to `flush`. At most
 * `concurrency` flushes run at once; add() waits while they are all busy, so
 * a slow database slows the consumer instead of growing memory.
 */
export class BatchAccumulator<T> {
  private items: T[] = [];
  private weight = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly running = new Set<Promise<void>>();
  private readonly options: {
    maxWeight: number;
    maxWaitMs: number;
    concurrency: number;
    flush: (items: T[]) => Promise<void>;
  };

  constructor(options: BatchAccumulator<T>["options"]) {
    this.options = options;
  }

  async add(item: T, weight: number): Promise<void> {
    this.items.push(item);
    this.weight += weight;
    if (this.weight >= this.options.maxWeight) await this.cut();
    else this.timer ??= setTimeout(() => void this.cut(), this.options.maxWaitMs);
  }

  /** Flushes what is buffered and waits for every running flush. */
  async drain(): Promise<void> {
    await this.cut();
    await Promise.all(this.running);
  }

  private async cut(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.items.length === 0) return;
    const group = this.items;
    this.items = [];
    this.weight = 0;
    while (this.running.size >= this.options.concurrency) await Promise.race(this.running);
    const run = this.options.flush(group).finally(() => this.running.delete(run));
    this.running.add(run);
  }
}
