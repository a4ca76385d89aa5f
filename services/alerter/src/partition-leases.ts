import { type Database, type Kysely, sql } from "@vigil/db";
import type { Logger } from "@vigil/runtime";

export interface LeaseCallbacks {
  /** This replica now holds the partition at `epoch`. */
  acquired(partition: number, epoch: number): void;
  /** Stop evaluating it (commit and checkpoint) before the lease is given back. */
  releasing(partition: number): Promise<void>;
  /** The lease was taken: stop at once, writing nothing more. */
  lost(partition: number): void;
}

/**
 * Shares the feed's partitions among alerter replicas through the database:
 * each replica heartbeats its membership; the live members split the
 * partitions by rendezvous hashing (a member joining or leaving moves only
 * its share); a partition is held by a lease with an epoch that every write
 * of its worker checks. A replica that stops renewing (kill -9, a network
 * split) loses its leases `ttlMs` later and the others take its partitions.
 */
export class PartitionLeases {
  private readonly owned = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly db: Kysely<Database>;
  private readonly member: string;
  private readonly partitions: number;
  private readonly ttlMs: number;
  private readonly callbacks: LeaseCallbacks;
  private readonly log: Logger;

  constructor(options: {
    db: Kysely<Database>;
    member: string;
    partitions: number;
    ttlMs: number;
    callbacks: LeaseCallbacks;
    log: Logger;
  }) {
    this.db = options.db;
    this.member = options.member;
    this.partitions = options.partitions;
    this.ttlMs = options.ttlMs;
    this.callbacks = options.callbacks;
    this.log = options.log;
  }

  get ownedPartitions(): number[] {
    return [...this.owned.keys()];
  }

  async start(): Promise<void> {
    await this.db
      .insertInto("alerter_partitions")
      .values(Array.from({ length: this.partitions }, (_, partition) => ({ partition, partitions: this.partitions })))
      .onConflict((oc) => oc.column("partition").doNothing())
      .execute();
    await this.runRound();
    const every = Math.max(200, Math.floor(this.ttlMs / 4));
    this.timer = setInterval(() => void this.runRound(), every);
    this.timer.unref();
  }

  /** Releases every partition (after its worker stopped) and leaves. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.round;
    for (const partition of [...this.owned.keys()]) await this.release(partition);
    await this.db
      .deleteFrom("alerter_members")
      .where("id", "=", this.member)
      .execute()
      .catch(() => {});
  }

  private runRound(): Promise<void> {
    if (this.stopped) return this.round;
    this.round = this.round.then(() => this.rebalance()).catch((err) => this.log.warn({ err }, "lease round failed"));
    return this.round;
  }

  private async rebalance(): Promise<void> {
    const ttl = sql`${`${this.ttlMs} milliseconds`}::interval`;
    await this.db
      .insertInto("alerter_members")
      .values({ id: this.member })
      .onConflict((oc) => oc.column("id").doUpdateSet({ heartbeat_at: sql`now()` as never }))
      .execute();
    const members = await this.db
      .selectFrom("alerter_members")
      .select("id")
      .where("heartbeat_at", ">", sql<Date>`now() - ${ttl}`)
      .execute();
    // Long-gone members, so the table stays small.
    await this.db
      .deleteFrom("alerter_members")
      .where("heartbeat_at", "<", sql<Date>`now() - interval '1 hour'`)
      .execute();
    const live = members.map((m) => m.id);
    if (!live.includes(this.member)) live.push(this.member);
    for (const [partition, epoch] of this.owned) {
      const renewed = await this.db
        .updateTable("alerter_partitions")
        .set({ expires_at: sql`now() + ${ttl}` as never })
        .where("partition", "=", partition)
        .where("owner", "=", this.member)
        .where("epoch", "=", epoch)
        .executeTakeFirst();
      if (Number(renewed.numUpdatedRows) === 0) {
        this.owned.delete(partition);
        this.log.warn({ partition }, "partition lease lost");
        this.callbacks.lost(partition);
      }
    }
    for (let partition = 0; partition < this.partitions; partition++) {
      const mine = owner(live, partition) === this.member;
      if (mine && !this.owned.has(partition)) {
        const taken = await this.db
          .updateTable("alerter_partitions")
          .set({ owner: this.member, epoch: sql`epoch + 1` as never, expires_at: sql`now() + ${ttl}` as never })
          .where("partition", "=", partition)
          .where((eb) => eb.or([eb("owner", "is", null), eb("expires_at", "<", sql<Date>`now()`)]))
          .returning("epoch")
          .executeTakeFirst();
        if (taken) {
          this.owned.set(partition, Number(taken.epoch));
          this.callbacks.acquired(partition, Number(taken.epoch));
        }
      } else if (!mine && this.owned.has(partition)) {
        await this.release(partition);
      }
    }
  }

  private async release(partition: number): Promise<void> {
    const epoch = this.owned.get(partition);
    if (epoch === undefined) return;
    await this.callbacks.releasing(partition);
    this.owned.delete(partition);
    await this.db
      .updateTable("alerter_partitions")
      .set({ owner: null, expires_at: sql`now()` as never })
      .where("partition", "=", partition)
      .where("owner", "=", this.member)
      .where("epoch", "=", epoch)
      .execute();
  }
}

/** Rendezvous hashing: the member with the highest hash of (member, partition) owns it. */
export function owner(members: string[], partition: number): string | undefined {
  let best: string | undefined;
  let bestScore = -1;
  for (const m of members) {
    const score = fnv1a(`${m}#${partition}`);
    if (score > bestScore || (score === bestScore && best !== undefined && m < best)) {
      best = m;
      bestScore = score;
    }
  }
  return best;
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // Mix the bits: FNV-1a alone spreads similar keys poorly.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  return h >>> 0;
}
