import { type DeviceEvents, memoryDeviceEvents } from "./device-events.ts";
import type {
  AppendResult,
  Backlog,
  BatchConsumer,
  BatchWatch,
  ConsumeOptions,
  Delivery,
  DeviceAddress,
  OutgoingBatch,
  ReadingBus,
  StoredBatch,
  WatchFilter,
} from "./reading-bus.ts";
import { batchMessageId, deviceSubject, SEQ_HEADER } from "./subjects.ts";
import { memoryUserEvents, type UserEvents } from "./user-events.ts";

export interface MemoryBusOptions {
  /** Window in which a resent batch is recognised as a duplicate. */
  duplicateWindowMs: number;
  /** Unhandled batches held at most; appends fail beyond it (backpressure, no loss). */
  maxBatches: number;
}

/**
 * The in-process twin of the JetStream bus for the quick start: same
 * contract (dedup by device and seq, a shared consumer with ack, nak and
 * redelivery, live tail), nothing on disk. A crash loses what it holds.
 */
export function createMemoryBus(options: MemoryBusOptions): ReadingBus {
  return new MemoryBus(options);
}

interface Entry {
  batch: StoredBatch;
  deliveries: number;
}

class MemoryBus implements ReadingBus {
  private readonly lastBySubject = new Map<string, StoredBatch>();
  private readonly seenIds = new Map<string, number>();
  private readonly ready: Entry[] = [];
  private readonly waiting: Array<() => void> = [];
  private readonly watchers = new Set<{ subject: RegExp; push(b: StoredBatch): void }>();
  private unacked = 0;
  private closed = false;
  readonly deviceEvents: DeviceEvents = memoryDeviceEvents();
  readonly userEvents: UserEvents = memoryUserEvents();

  private readonly options: MemoryBusOptions;

  constructor(options: MemoryBusOptions) {
    this.options = options;
  }

  async append(out: OutgoingBatch): Promise<AppendResult> {
    if (this.closed) throw new Error("bus is closed");
    const now = Date.now();
    const id = out.messageId ?? batchMessageId(out.device, out.seq);
    this.forgetExpiredIds(now);
    if (this.seenIds.has(id)) return { duplicate: true };
    if (this.unacked >= this.options.maxBatches) throw new Error("bus is full");
    this.seenIds.set(id, now);
    const batch: StoredBatch = {
      device: out.device,
      seq: out.seq,
      payload: out.payload,
      storedAtMs: now,
      headers: { ...out.headers, [SEQ_HEADER]: String(out.seq) },
    };
    const subject = deviceSubject(out.device);
    this.lastBySubject.set(subject, batch);
    this.unacked++;
    this.enqueue({ batch, deliveries: 0 });
    for (const w of this.watchers) if (w.subject.test(subject)) w.push(batch);
    return { duplicate: false };
  }

  async last(device: DeviceAddress): Promise<StoredBatch | undefined> {
    return this.lastBySubject.get(deviceSubject(device));
  }

  consume(_options: ConsumeOptions): BatchConsumer {
    let stopped = false;
    let wake: (() => void) | undefined;
    const next = (): Promise<Entry | undefined> =>
      new Promise((resolve) => {
        const take = () => {
          if (stopped || this.closed) return resolve(undefined);
          const entry = this.ready.shift();
          if (entry) return resolve(entry);
          wake = take;
          this.waiting.push(take);
        };
        take();
      });
    return {
      [Symbol.asyncIterator]: async function* (this: MemoryBus) {
        for (let entry = await next(); entry; entry = await next()) {
          entry.deliveries++;
          yield this.delivery(entry);
        }
      }.bind(this),
      stop: async () => {
        stopped = true;
        wake?.();
      },
    };
  }

  watch(filter: WatchFilter): BatchWatch {
    const queue: StoredBatch[] = [];
    let notify: (() => void) | undefined;
    let stopped = false;
    const watcher = {
      subject: new RegExp(`^vigil\\.readings\\.${filter.code ?? "[^.]+"}\\.${filter.number ?? "[^.]+"}$`),
      push: (b: StoredBatch) => {
        queue.push(b);
        notify?.();
      },
    };
    this.watchers.add(watcher);
    const watchers = this.watchers;
    return {
      async *[Symbol.asyncIterator]() {
        while (!stopped) {
          const b = queue.shift();
          if (b) {
            yield b;
            continue;
          }
          await new Promise<void>((r) => {
            notify = r;
          });
        }
      },
      stop() {
        stopped = true;
        watchers.delete(watcher);
        notify?.();
      },
    };
  }

  isConnected(): boolean {
    return !this.closed;
  }

  maxPayloadBytes(): number {
    return Number.MAX_SAFE_INTEGER;
  }

  async backlog(): Promise<Backlog> {
    return { pending: this.ready.length, ackPending: this.unacked - this.ready.length, redelivered: 0 };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w();
  }

  private delivery(entry: Entry): Delivery {
    let settled = false;
    const settle = () => {
      if (settled) return false;
      settled = true;
      return true;
    };
    // Like JetStream's interest retention: a handled batch leaves the log.
    const forget = () => {
      this.unacked--;
      const subject = deviceSubject(entry.batch.device);
      if (this.lastBySubject.get(subject) === entry.batch) this.lastBySubject.delete(subject);
    };
    return {
      ...entry.batch,
      deliveryCount: entry.deliveries,
      ack: () => {
        if (settle()) forget();
      },
      term: () => {
        if (settle()) forget();
      },
      inProgress: () => {},
      // Redelivered however often: an acked batch is never given up on here (see reading-writer.ts).
      nak: (delayMs = 0) => {
        if (!settle()) return;
        setTimeout(() => this.enqueue(entry), delayMs).unref();
      },
    };
  }

  private enqueue(entry: Entry): void {
    this.ready.push(entry);
    this.waiting.shift()?.();
  }

  private forgetExpiredIds(now: number): void {
    // Insertion order is time order, so expired ids are at the front.
    for (const [id, at] of this.seenIds) {
      if (now - at < this.options.duplicateWindowMs) break;
      this.seenIds.delete(id);
    }
  }
}
