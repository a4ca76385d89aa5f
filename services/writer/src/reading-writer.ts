import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { type Delivery, sourceIdOf } from "@vigil/bus";
import type { Database, Kysely } from "@vigil/db";
import { recordDeadLetter } from "@vigil/ingest";
import { DecodeError, decodeReadingBatch } from "@vigil/proto";
import type { Logger } from "@vigil/runtime";
import { tracer } from "@vigil/telemetry";
import { groupTrace } from "./group-trace.ts";
import type { DecodedDelivery } from "./reading-rows.ts";
import type { StoredGroup, StoreReadings } from "./readings-store.ts";
import type { SensorDictionary } from "./sensor-dictionary.ts";
import { isDataError, isTransientDbError } from "./transient-error.ts";
import type { WriterMetrics } from "./writer-metrics.ts";

export interface WriteOutcome {
  /** Readings in the written batches. */
  readings: number;
  /** Rows actually inserted (readings minus ones already stored). */
  inserted: number;
  /** Batches set aside as dead letters. */
  deadLettered: number;
}

/** A delivered batch with its decoded readings. */
type Item = { delivery: Delivery; decoded: DecodedDelivery };

const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 5_000;

/**
 * Writes delivered batches to `readings` in one transaction and acks them
 * only after COMMIT. Duplicates are skipped by the unique key, so
 * redelivery is harmless. Database errors are retried in place until they
 * pass or the writer stops (then the batches are nak'ed for redelivery):
 * every acked batch is meant to be stored, so only a batch whose own data
 * the database refuses (SQLSTATE classes 22 and 23, isolated by halving the
 * group) or that cannot be decoded goes to dead_letters. Receivers reject
 * everything they know would end that way before they ack it
 * (docs/device-protocol.md lists what is left). A batch delivered more than
 * `maxDeliver` times is written on its own, so one that keeps failing (or
 * crashing writers) cannot hold others back; it is never dropped for it.
 */
export class ReadingWriter {
  private readonly db: Kysely<Database>;
  private readonly store: StoreReadings;
  private readonly sensors: SensorDictionary;
  private readonly log: Logger;
  private readonly maxDeliver: number;
  private readonly metrics: WriterMetrics;

  constructor(
    db: Kysely<Database>,
    store: StoreReadings,
    sensors: SensorDictionary,
    log: Logger,
    maxDeliver: number,
    metrics: WriterMetrics,
  ) {
    this.db = db;
    this.store = store;
    this.sensors = sensors;
    this.log = log;
    this.maxDeliver = maxDeliver;
    this.metrics = metrics;
  }

  /** Writes a group inside one `process vigil.readings` span (where it sits: group-trace.ts). */
  async write(deliveries: Delivery[], signal: AbortSignal): Promise<WriteOutcome> {
    const { parent, links } = groupTrace(deliveries.map((d) => d.headers));
    const span = tracer.startSpan(
      "process vigil.readings",
      {
        kind: SpanKind.CONSUMER,
        links,
        attributes: {
          "messaging.system": "nats",
          "messaging.operation.type": "process",
          "messaging.destination.name": "vigil.readings.>",
          "messaging.batch.message_count": deliveries.length,
        },
      },
      parent,
    );
    try {
      // Active, so the pg instrumentation's spans sit under it.
      const outcome = await context.with(trace.setSpan(ROOT_CONTEXT, span), () => this.writeGroup(deliveries, signal));
      span.setAttribute("vigil.readings", outcome.readings);
      span.setAttribute("vigil.rows_inserted", outcome.inserted);
      return outcome;
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  }

  private async writeGroup(deliveries: Delivery[], signal: AbortSignal): Promise<WriteOutcome> {
    const outcome: WriteOutcome = { readings: 0, inserted: 0, deadLettered: 0 };
    const good: Item[] = [];
    const alone: Item[] = [];
    for (const delivery of deliveries) {
      if (delivery.deliveryCount > 1) this.metrics.redeliveries.inc();
      if (!Number.isInteger(delivery.device.id) || delivery.device.id <= 0) {
        await this.setAside(delivery, "message has no device id header", signal);
        outcome.deadLettered++;
        continue;
      }
      try {
        const batch = decodeReadingBatch(delivery.payload);
        const decoded = {
          deviceId: delivery.device.id,
          storedAtMs: delivery.storedAtMs,
          sourceId: sourceIdOf(delivery.headers),
          batch,
        };
        const item = { delivery, decoded };
        (delivery.deliveryCount > this.maxDeliver ? alone : good).push(item);
      } catch (err) {
        if (!(err instanceof DecodeError)) throw err;
        await this.setAside(delivery, `undecodable batch: ${err.message}`, signal);
        outcome.deadLettered++;
      }
    }
    await this.insertOrSplit(good, outcome, signal);
    for (const item of alone) await this.insertOrSplit([item], outcome, signal);
    return outcome;
  }

  private async insertOrSplit(items: Item[], outcome: WriteOutcome, signal: AbortSignal): Promise<void> {
    if (items.length === 0) return;
    try {
      await this.storeGroup(items, outcome, signal);
    } catch (err) {
      if (signal.aborted || isTransientDbError(err)) throw err;
      if (items.length === 1) {
        await this.storeAlone(items[0]!, outcome, signal, err);
        return;
      }
      // One bad batch must not hold back the others: halve until it is isolated.
      const mid = Math.ceil(items.length / 2);
      await this.insertOrSplit(items.slice(0, mid), outcome, signal);
      await this.insertOrSplit(items.slice(mid), outcome, signal);
    }
  }

  /** Stores a group in one transaction (transient errors retried in place) and acks it. */
  private async storeGroup(items: Item[], outcome: WriteOutcome, signal: AbortSignal): Promise<void> {
    const started = performance.now();
    const result = await this.retryTransient(
      items.map((i) => i.delivery),
      signal,
      () => this.insert(items.map((i) => i.decoded)),
    );
    this.metrics.insertSeconds.observe((performance.now() - started) / 1000);
    this.metrics.insertReadings.observe(result.readings);
    for (const i of items) i.delivery.ack();
    outcome.readings += result.readings;
    outcome.inserted += result.inserted;
    this.metrics.batches.inc({ outcome: "stored" }, items.length);
    this.metrics.readings.inc(result.readings);
    this.metrics.rowsInserted.inc(result.inserted);
    const committedAt = Date.now();
    for (const i of items) this.metrics.ingestToStoredSeconds.observe((committedAt - newestReading(i.decoded)) / 1000);
  }

  /**
   * One batch the database failed permanently. Refused for its own data
   * (SQLSTATE classes 22 and 23): set aside. For anything else (permissions,
   * a missing object, a bug) it is acked data that must wait for the
   * database or a fixed writer: retried with backoff, kept in progress,
   * until it is stored, refused for its data after all, or the writer stops.
   */
  private async storeAlone(item: Item, outcome: WriteOutcome, signal: AbortSignal, first: unknown): Promise<void> {
    let err = first;
    let delay = RETRY_FIRST_MS;
    for (let attempt = 0; ; attempt++) {
      if (isDataError(err)) {
        await this.setAside(item.delivery, `database refused the batch: ${(err as Error).message}`, signal);
        outcome.deadLettered++;
        return;
      }
      if (attempt === 0) {
        this.log.error({ err, device: item.delivery.device, seq: item.delivery.seq }, "cannot store a batch, retrying");
      }
      item.delivery.inProgress();
      await sleep(delay, signal);
      if (signal.aborted) throw err;
      delay = Math.min(delay * 2, RETRY_MAX_MS);
      try {
        await this.storeGroup([item], outcome, signal);
        return;
      } catch (next) {
        if (signal.aborted || isTransientDbError(next)) throw next;
        err = next;
      }
    }
  }

  private async insert(decoded: DecodedDelivery[]): Promise<StoredGroup> {
    const names = decoded.flatMap((d) => d.batch.series.map((s) => s.sensor));
    return this.store(decoded, await this.sensors.resolve(names));
  }

  /** Runs fn until it succeeds or fails permanently, keeping the deliveries from redelivery meanwhile. */
  private async retryTransient<T>(deliveries: Delivery[], signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
    let delay = RETRY_FIRST_MS;
    let warned = false;
    for (;;) {
      try {
        const result = await fn();
        if (warned) this.log.info("database writes succeed again");
        return result;
      } catch (err) {
        if (!isTransientDbError(err) || signal.aborted) throw err;
        if (!warned) {
          warned = true;
          this.log.warn({ err }, "database write failed, retrying until it succeeds");
        }
        for (const d of deliveries) d.inProgress();
        await sleep(delay, signal);
        delay = Math.min(delay * 2, RETRY_MAX_MS);
      }
    }
  }

  private async setAside(delivery: Delivery, reason: string, signal: AbortSignal): Promise<void> {
    this.metrics.batches.inc({ outcome: "dead_lettered" });
    this.log.warn({ device: delivery.device, seq: delivery.seq, reason }, "batch set aside as a dead letter");
    await this.retryTransient([delivery], signal, () =>
      recordDeadLetter(this.db, {
        deviceId: delivery.device.id,
        seq: delivery.seq,
        source: "writer",
        reason,
        payload: delivery.payload,
      }),
    );
    delivery.term();
  }
}

/** The newest reading time of a batch, in ms. */
function newestReading(d: DecodedDelivery): number {
  let newest = 0;
  for (const s of d.batch.series) {
    const last = s.times[s.times.length - 1];
    if (last !== undefined && last > newest) newest = last;
  }
  return newest || d.storedAtMs;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
