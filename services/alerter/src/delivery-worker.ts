import {
  type AttemptOutcome,
  channelForSending,
  claimDueDeliveries,
  type Delivery,
  deliveryContext,
  recordAttempt,
  takeRateToken,
} from "@vigil/alerts";
import type { Database, Kysely } from "@vigil/db";
import type { Logger } from "@vigil/runtime";
import type { AlerterMetrics } from "./alerter-metrics.ts";
import type { ChannelSender } from "./channels/channel-sender.ts";
import { retryBackoffMs } from "./retry-backoff.ts";

export interface DeliveryWorkerOptions {
  db: Kysely<Database>;
  senders: Record<string, ChannelSender>;
  log: Logger;
  metrics: AlerterMetrics;
  concurrency: number;
  maxBackoffMs: number;
  /** Longest a replica holds a delivery it is sending (a crashed one lets go after this). */
  lockMs: number;
  /** How often the queue is looked at without a nudge. */
  pollMs: number;
}

/**
 * Sends queued notifications, at least once: every replica runs one; a
 * delivery is claimed (locked) before it is sent and recorded after, and a
 * claim that outlives its replica expires, so another replica sends it again
 * with the same webhook-id. Failures retry with exponential backoff and
 * jitter until the delivery's deadline, then stay failed (listable and
 * retryable). Silences and the per-channel rate limit postpone a delivery
 * without spending an attempt.
 */
export class DeliveryWorker {
  private readonly o: DeliveryWorkerOptions;
  private wake: (() => void) | undefined;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(options: DeliveryWorkerOptions) {
    this.o = options;
  }

  start(): void {
    this.loop = this.run();
  }

  /** New deliveries were queued: look now instead of at the next poll. */
  nudge(): void {
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    await Promise.all(this.inFlight);
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let claimed: Delivery[] = [];
      const room = this.o.concurrency - this.inFlight.size;
      if (room > 0) {
        try {
          claimed = await claimDueDeliveries(this.o.db, room, this.o.lockMs);
        } catch (err) {
          this.o.log.warn({ err }, "could not read the delivery queue");
        }
      }
      for (const d of claimed) {
        const p = this.deliver(d).finally(() => {
          this.inFlight.delete(p);
          this.wake?.();
        });
        this.inFlight.add(p);
      }
      if (claimed.length === room && room > 0) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.o.pollMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  private async deliver(d: Delivery): Promise<void> {
    const { db, metrics, log } = this.o;
    const channel = await channelForSending(db, Number(d.channel_id)).catch(() => undefined);
    let outcome: AttemptOutcome;
    let kind = channel?.kind ?? "unknown";
    try {
      outcome = await this.attempt(d, channel);
    } catch (err) {
      // The database went away mid-way: the lock expires and it is tried again.
      log.warn({ err, delivery: Number(d.id) }, "delivery attempt could not be recorded");
      return;
    }
    kind = channel?.kind ?? kind;
    const label =
      outcome.kind === "retry" && outcome.retryAtMs > d.deadline_at.getTime()
        ? "failed"
        : outcome.kind === "defer"
          ? "deferred"
          : outcome.kind;
    metrics.deliveries.inc({ kind, outcome: label });
    if (label === "failed") {
      log.warn(
        { delivery: Number(d.id), channel: channel?.name, error: (outcome as { error: string }).error },
        "delivery failed",
      );
    }
    await recordAttempt(db, d, outcome).catch((err) =>
      log.warn({ err, delivery: Number(d.id) }, "delivery outcome could not be recorded"),
    );
  }

  private async attempt(d: Delivery, channel: Awaited<ReturnType<typeof channelForSending>>): Promise<AttemptOutcome> {
    if (!channel || channel.deleted_at) return { kind: "skipped", reason: "channel removed" };
    const sender = this.o.senders[channel.kind];
    if (!sender) return { kind: "skipped", reason: `no sender for ${channel.kind} channels` };
    if (d.event !== "test") {
      const { alert, silencedUntil } = await deliveryContext(this.o.db, d);
      if (silencedUntil) {
        if (d.event === "resolved" || alert?.state === "resolved")
          return { kind: "skipped", reason: "resolved while silenced" };
        return { kind: "defer", untilMs: silencedUntil.getTime(), reason: "silenced" };
      }
    }
    const waitMs = await takeRateToken(this.o.db, Number(channel.id));
    if (waitMs > 0) return { kind: "defer", untilMs: Date.now() + waitMs, reason: "channel rate limit" };
    const started = performance.now();
    const result = await sender.send(channel, d);
    this.o.metrics.deliverySeconds.observe({ kind: channel.kind }, (performance.now() - started) / 1000);
    if (result.ok) return { kind: "succeeded", status: result.status };
    if (result.permanent) {
      // Retrying cannot help (the address is refused by policy): fail now, retryable by hand.
      return { kind: "retry", error: result.error, status: result.status, retryAtMs: Number.MAX_SAFE_INTEGER };
    }
    return {
      kind: "retry",
      error: result.error,
      status: result.status,
      retryAtMs: Date.now() + retryBackoffMs(d.attempts, this.o.maxBackoffMs),
    };
  }
}
