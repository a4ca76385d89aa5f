import { gunzipSync, gzipSync } from "node:zlib";
import { type AppliedTransitions, applyTransitions, deviceLabel, type Transition } from "@vigil/alerts";
import type { AlertFeed, FeedMessage } from "@vigil/bus";
import { type Database, type Kysely, sql } from "@vigil/db";
import { decodeReadingBatch } from "@vigil/proto";
import type { Logger } from "@vigil/runtime";
import type { AlerterMetrics } from "./alerter-metrics.ts";
import type { Verdict } from "./detectors/detector.ts";
import type { CompiledRule, KnownDevice, RuleBook } from "./rule-book.ts";

/** One series' detector state: the newest reading time evaluated, and the detector's own state. */
interface SeriesEntry {
  last: number;
  state: unknown;
}

export interface PartitionWorkerDeps {
  db: Kysely<Database>;
  feed: AlertFeed;
  rules: RuleBook;
  log: Logger;
  metrics: AlerterMetrics;
  member: string;
  checkpointIntervalMs: number;
  absenceGraceMs: number;
  deliveryDeadlineMs: number;
  /** The external rule gap alerts go through (source "alerter"). */
  gapRuleId: () => Promise<number>;
  /** Called after transitions were committed (new deliveries, alerts to log). */
  committed: (applied: AppliedTransitions, transitions: Transition[]) => void;
}

/** The lease was taken by another replica: stop without writing. */
export class LostLeaseError extends Error {
  override name = "LostLeaseError";
}

/**
 * Evaluates one partition of the feed while this replica holds its lease
 * (epoch). Detectors run on the readings' own times. Transitions commit with
 * a check of the lease in the same transaction (a replica that lost the
 * partition writes nothing), and every checkpoint (feed position plus every
 * series' state) commits with the transitions up to it, so a replica that
 * takes over resumes exactly there: what it evaluates again raises nothing
 * twice (alerts are unique per rule, device, sensor and start) and misses
 * nothing (no position is saved before its alerts are).
 */
export class PartitionWorker {
  readonly partition: number;
  readonly epoch: number;
  private readonly deps: PartitionWorkerDeps;
  private readonly states = new Map<string, SeriesEntry>();
  private pending: Transition[] = [];
  private seq = 0;
  /** Newest reading time evaluated in the partition. */
  private watermark = 0;
  private caughtUp = false;
  private lastMessageAt = 0;
  private lastCheckpointAt = 0;
  private absenceGeneration = -1;
  private stopped = false;
  private reader: { stop(): void } | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  private done: Promise<void> | undefined;

  constructor(partition: number, epoch: number, deps: PartitionWorkerDeps) {
    this.partition = partition;
    this.epoch = epoch;
    this.deps = deps;
  }

  get seriesCount(): number {
    return this.states.size;
  }

  /** Seconds between now and the newest reading evaluated (0 before any). */
  get lagSeconds(): number {
    return this.watermark > 0 ? Math.max(0, (Date.now() - this.watermark) / 1000) : 0;
  }

  /** Runs until stop() or a lost lease; resolves when it has stopped. */
  start(): Promise<void> {
    this.done ??= this.run().catch((err: Error) => {
      if (!(err instanceof LostLeaseError) && !this.stopped) {
        this.deps.log.error({ err, partition: this.partition }, "partition worker failed");
      }
      this.failure = err;
    });
    return this.done;
  }

  get failed(): Error | undefined {
    return this.failure;
  }

  /** Stops reading, commits what was evaluated and a last checkpoint. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.reader?.stop();
    clearInterval(this.ticker);
    await this.done?.catch(() => {});
    if (!this.failure) await this.flush(true).catch(() => {});
  }

  private async run(): Promise<void> {
    const { db, feed, log } = this.deps;
    const row = await db
      .selectFrom("alerter_partitions")
      .selectAll()
      .where("partition", "=", this.partition)
      .executeTakeFirstOrThrow();
    const compatible = row.partitions === feed.partitions && row.checkpoint_seq > 0;
    if (compatible && row.checkpoint_state) this.restore(row.checkpoint_state);
    this.seq = compatible ? Number(row.checkpoint_seq) : 0;
    this.watermark = compatible ? (row.watermark?.getTime() ?? 0) : 0;
    const window = await feed.window();
    // Batches this partition may have had were dropped from the feed before it read them.
    const gapFrom = compatible && window.firstSeq > this.seq + 1 ? (row.watermark ?? row.checkpoint_at) : undefined;
    log.info(
      { partition: this.partition, epoch: this.epoch, fromSeq: this.seq + 1, series: this.states.size },
      "partition acquired",
    );
    this.lastCheckpointAt = Date.now();
    this.ticker = setInterval(() => void this.tick(), 1_000);
    this.ticker.unref();
    const reader = feed.read(this.partition, this.seq + 1);
    this.reader = reader;
    let gapPending = gapFrom !== undefined;
    for await (const message of reader) {
      if (this.stopped) break;
      if (gapPending) {
        gapPending = false;
        await this.raiseGap(gapFrom!, message);
      }
      this.evaluate(message);
      this.seq = message.seq;
      this.lastMessageAt = Date.now();
      this.caughtUp = message.pending === 0;
      const due = Date.now() - this.lastCheckpointAt >= this.deps.checkpointIntervalMs;
      if (this.pending.length > 0 || due) await this.flush(due);
      if (this.failure) throw this.failure;
    }
  }

  /** Runs one batch through every rule that applies to its series. */
  private evaluate(message: FeedMessage): void {
    const { rules, metrics } = this.deps;
    const device = rules.device(message.device.id);
    if (!device) {
      metrics.unknownDeviceBatches.inc();
      return;
    }
    let batch: ReturnType<typeof decodeReadingBatch>;
    try {
      batch = decodeReadingBatch(message.payload);
    } catch {
      // The receiver validated it; a batch it could not decode is the writer's dead letter, not ours.
      return;
    }
    let readings = 0;
    let late = 0;
    for (const series of batch.series) {
      const compiled = rules.forSeries(device.id, series.sensor);
      const n = series.times.length;
      readings += n;
      if (n > 0 && series.times[n - 1]! > this.watermark) this.watermark = series.times[n - 1]!;
      for (const c of compiled) {
        const sensor = c.rule.condition.kind === "absence" && c.rule.sensors.length === 0 ? "" : series.sensor;
        const entry = this.entry(c, device, sensor, series.times[0]!);
        const ctx = { ruleName: c.rule.name, device: deviceLabel(device), sensor };
        for (let i = 0; i < n; i++) {
          const t = series.times[i]!;
          if (t <= entry.last) {
            // Late: this series was evaluated past it already (docs/alerts.md, "Late data"). A device-level
            // absence series sees every sensor's reading of the same time: those are not late.
            if (t < entry.last) late++;
            continue;
          }
          entry.last = t;
          const verdict = c.detector.observe(c.rule.condition, entry.state, t, series.values[i]!, ctx);
          if (verdict) this.push(c, device, sensor, verdict);
        }
      }
    }
    metrics.readingsEvaluated.inc(readings);
    if (late > 0) metrics.lateReadings.inc(late);
  }

  /** Absence checks on the event clock; runs every second. */
  private tick(): void {
    if (this.stopped) return;
    const { rules } = this.deps;
    // Idle for a while means nothing more is coming: the wall clock is the event clock.
    if (Date.now() - this.lastMessageAt > 1_000) this.caughtUp = true;
    const clock = this.caughtUp ? Date.now() - this.deps.absenceGraceMs : this.watermark - this.deps.absenceGraceMs;
    if (this.absenceGeneration !== rules.generation) {
      // New rules or devices: start watching the series that have no state yet.
      this.absenceGeneration = rules.generation;
      for (const { compiled, device, sensor } of rules.absenceSeries(this.partition, this.deps.feed.partitions)) {
        this.entry(compiled, device, sensor, Math.max(clock, this.watermark));
      }
    }
    for (const { entry, compiled: c, device, sensor } of this.clocked.values()) {
      const verdict = c.detector.tick?.(c.rule.condition, entry.state, clock, {
        ruleName: c.rule.name,
        device: deviceLabel(device),
        sensor,
      });
      if (verdict) this.push(c, device, sensor, verdict);
    }
    if (this.pending.length > 0) void this.flush(false).catch(() => {});
  }

  /** Series whose detector has a clock (absence), for the ticks. */
  private readonly clocked = new Map<
    string,
    { entry: SeriesEntry; compiled: CompiledRule; device: KnownDevice; sensor: string }
  >();

  private entry(c: CompiledRule, device: KnownDevice, sensor: string, startMs: number): SeriesEntry {
    const key = `${c.key}|${device.id}|${sensor}`;
    let entry = this.states.get(key);
    if (!entry) {
      entry = { last: Number.NEGATIVE_INFINITY, state: c.detector.create(c.rule.condition, startMs) };
      this.states.set(key, entry);
    }
    if (c.detector.tick && !this.clocked.has(key)) this.clocked.set(key, { entry, compiled: c, device, sensor });
    return entry;
  }

  private push(c: CompiledRule, device: KnownDevice, sensor: string, verdict: Verdict): void {
    if ("fire" in verdict) {
      this.pending.push({
        type: "fire",
        ruleId: c.rule.id,
        deviceId: device.id,
        sensor,
        startedAtMs: verdict.fire.startedAtMs,
        severity: c.rule.severity,
        summary: verdict.fire.summary,
        values: verdict.fire.values.slice(),
        details: verdict.fire.details,
      });
    } else {
      this.pending.push({
        type: "resolve",
        ruleId: c.rule.id,
        deviceId: device.id,
        sensor,
        resolvedAtMs: verdict.resolve.atMs,
        reason: verdict.resolve.reason,
        label: `${c.rule.name}: ${deviceLabel(device)}${sensor ? ` ${sensor}` : ""}`,
      });
    }
  }

  /**
   * Commits pending transitions (and, when `checkpoint`, the position and
   * states as they are now) in one transaction that first checks the lease.
   */
  private flush(checkpoint: boolean): Promise<void> {
    const run = async () => {
      const transitions = this.pending;
      this.pending = [];
      const state = checkpoint ? this.snapshot() : undefined;
      const seq = this.seq;
      const watermark = this.watermark;
      if (transitions.length === 0 && !state) return;
      let applied: AppliedTransitions | undefined;
      try {
        applied = await this.deps.db.transaction().execute(async (tx) => {
          const lease = await tx
            .selectFrom("alerter_partitions")
            .select(["owner", "epoch"])
            .where("partition", "=", this.partition)
            .forUpdate()
            .executeTakeFirst();
          if (lease?.owner !== this.deps.member || Number(lease.epoch) !== this.epoch) throw new LostLeaseError();
          const result = await applyTransitions(tx, transitions, { deliveryDeadlineMs: this.deps.deliveryDeadlineMs });
          if (state) {
            await tx
              .updateTable("alerter_partitions")
              .set({
                partitions: this.deps.feed.partitions,
                checkpoint_seq: seq,
                checkpoint_state: state,
                watermark: watermark > 0 ? new Date(watermark) : null,
                checkpoint_at: sql`now()` as never,
              })
              .where("partition", "=", this.partition)
              .execute();
          }
          return result;
        });
      } catch (err) {
        if (err instanceof LostLeaseError) {
          this.failure = err;
          this.stopped = true;
          this.reader?.stop();
          return;
        }
        // Keep them for the next attempt (the database may be back by then).
        this.pending = transitions.concat(this.pending);
        throw err;
      }
      if (state) this.lastCheckpointAt = Date.now();
      if (transitions.length > 0) this.deps.committed(applied, transitions);
    };
    this.writing = this.writing.then(run, run);
    return this.writing;
  }

  /** A gap: batches were dropped from the feed before this partition read them. */
  private async raiseGap(from: Date, first: FeedMessage): Promise<void> {
    const devices = this.deps.rules
      .partitionDevices(this.partition, this.deps.feed.partitions)
      .map((d) => deviceLabel(d))
      .sort();
    const toMs = first.storedAtMs;
    this.deps.metrics.gaps.inc();
    this.deps.log.warn(
      {
        partition: this.partition,
        from: from.toISOString(),
        to: new Date(toMs).toISOString(),
        devices: devices.length,
      },
      "readings were not evaluated: the alerter was away longer than the feed keeps batches",
    );
    this.pending.push({
      type: "fire",
      ruleId: await this.deps.gapRuleId(),
      deviceId: null,
      sensor: `partition:${this.partition}`,
      startedAtMs: from.getTime(),
      severity: "warning",
      summary: `readings of ${devices.length} devices from ${from.toISOString()} to ${new Date(toMs).toISOString()} were not evaluated (alerter partition ${this.partition})`,
      values: [],
      details: {
        partition: this.partition,
        from: from.toISOString(),
        to: new Date(toMs).toISOString(),
        devices: devices.slice(0, 1_000),
        deviceCount: devices.length,
      },
    });
  }

  private snapshot(): Buffer {
    const entries: Array<[string, number, unknown]> = [];
    for (const [key, e] of this.states) entries.push([key, e.last, e.state]);
    return gzipSync(JSON.stringify(entries), { level: 1 });
  }

  private restore(bytes: Buffer): void {
    try {
      const entries = JSON.parse(gunzipSync(bytes).toString("utf8")) as Array<[string, number, unknown]>;
      for (const [key, last, state] of entries) this.states.set(key, { last, state });
    } catch (err) {
      this.deps.log.warn(
        { err, partition: this.partition },
        "checkpoint unreadable: starting the partition's detectors afresh",
      );
    }
  }

  /** States of rule versions no longer active: dropped (their rule changed or went away). */
  prune(activeKeys: Set<string>): void {
    for (const key of this.states.keys()) {
      if (activeKeys.has(key.slice(0, key.indexOf("|")))) continue;
      this.states.delete(key);
      this.clocked.delete(key);
    }
  }
}
