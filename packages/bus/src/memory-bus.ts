import { type AlertFeed, devicePartition, type FeedMessage, type FeedReader, type FeedSettings } from "./alert-feed.ts";
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
  private feed: MemoryFeed | undefined;
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
    this.feed?.append(batch);
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

  async openFeed(settings: FeedSettings): Promise<AlertFeed> {
    this.feed ??= new MemoryFeed(settings);
    return this.feed;
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
    this.feed?.close();
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

/** The feed in memory: one log, oldest batches dropped beyond the bounds, readers woken on append. */
class MemoryFeed implements AlertFeed {
  readonly partitions: number;
  private readonly settings: FeedSettings;
  private readonly log: Array<FeedMessage & { partition: number; bytes: number }> = [];
  private nextSeq = 1;
  private bytes = 0;
  private readonly wakers = new Set<() => void>();
  private closed = false;

  constructor(settings: FeedSettings) {
    this.settings = settings;
    this.partitions = settings.partitions;
  }

  append(batch: StoredBatch): void {
    const partition = devicePartition(batch.device, this.partitions);
    const bytes = batch.payload.length + 64;
    this.log.push({ ...batch, seq: this.nextSeq++, pending: 0, partition, bytes });
    this.bytes += bytes;
    const oldest = this.settings.maxAgeMs > 0 ? batch.storedAtMs - this.settings.maxAgeMs : -Infinity;
    while (this.log.length > 1 && (this.bytes > this.settings.maxBytes || this.log[0]!.storedAtMs < oldest)) {
      this.bytes -= this.log.shift()!.bytes;
    }
    for (const wake of this.wakers) wake();
  }

  read(partition: number, fromSeq: number): FeedReader {
    let stopped = false;
    let wake: (() => void) | undefined;
    const feed = this;
    return {
      async *[Symbol.asyncIterator]() {
        let next = fromSeq;
        while (!stopped && !feed.closed) {
          const first = feed.log[0]?.seq ?? feed.nextSeq;
          let i = Math.max(0, next - first);
          let yielded = false;
          for (; i < feed.log.length && !stopped; i++) {
            const m = feed.log[i]!;
            next = m.seq + 1;
            if (m.partition !== partition) continue;
            yielded = true;
            yield {
              seq: m.seq,
              device: m.device,
              payload: m.payload,
              storedAtMs: m.storedAtMs,
              pending: feed.log.length - 1 - i,
            };
            // The log may have moved while the consumer worked.
            const nowFirst = feed.log[0]?.seq ?? feed.nextSeq;
            i = Math.max(-1, next - nowFirst - 1);
          }
          if (yielded) continue;
          await new Promise<void>((resolve) => {
            wake = resolve;
            feed.wakers.add(resolve);
          });
          if (wake) feed.wakers.delete(wake);
        }
      },
      stop() {
        stopped = true;
        wake?.();
      },
    };
  }

  async window(): Promise<{ firstSeq: number; lastSeq: number }> {
    return { firstSeq: this.log[0]?.seq ?? this.nextSeq, lastSeq: this.nextSeq - 1 };
  }

  close(): void {
    this.closed = true;
    for (const wake of this.wakers) wake();
  }
}
