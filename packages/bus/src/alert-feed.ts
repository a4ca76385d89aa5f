import type { DeviceAddress } from "./reading-bus.ts";

/**
 * The alerters' copy of the readings: a second log, fed from the first by
 * the log itself, that nobody acknowledges. It keeps the newest batches
 * within its own bounds (age and bytes) and drops the oldest beyond them,
 * so however far behind (or down) the alerters are, it never holds the
 * writers' log back; an alerter that was away longer than the feed's window
 * finds a gap, and says so (docs/architecture.md).
 *
 * Batches are split into `partitions` by device (the same hash as NATS's
 * `{{partition(n,1,2)}}` over the device's code and number), so each
 * device's batches stay in order within one partition and alerter replicas
 * can share the devices by sharing partitions.
 */
export interface AlertFeed {
  readonly partitions: number;
  /**
   * The batches of one partition, in log order, from `fromSeq` (or the
   * oldest one still kept, if that is later). Nothing is acknowledged.
   */
  read(partition: number, fromSeq: number): FeedReader;
  /** The oldest and newest sequence numbers the feed holds (first > last when empty). */
  window(): Promise<{ firstSeq: number; lastSeq: number }>;
}

export interface FeedSettings {
  partitions: number;
  /** Bytes kept at most; the oldest batches go first beyond it. */
  maxBytes: number;
  /** Batches older than this go (0: kept until maxBytes). */
  maxAgeMs: number;
  replicas: number;
  /** "file" survives a NATS restart; "memory" costs no disk writes. */
  storage: "file" | "memory";
}

export interface FeedMessage {
  /** Position in the feed, for checkpoints. */
  seq: number;
  device: DeviceAddress;
  payload: Uint8Array;
  /** When the feed stored it. */
  storedAtMs: number;
  /** Messages of this partition after this one (0: caught up). */
  pending: number;
}

export interface FeedReader extends AsyncIterable<FeedMessage> {
  stop(): void;
}

/** Name of the JetStream stream behind the feed. */
export const FEED_STREAM_NAME = "VIGIL_ALERTING";
/** Subject prefix of the feed: `vigil.alerting.<partition>.<code>.<number>`. */
export const FEED_SUBJECT_PREFIX = "vigil.alerting";

/** The partition of a device: FNV-1a (32 bit) of code and number concatenated, modulo n, as NATS computes it. */
export function devicePartition(device: { code: string; number: number }, partitions: number): number {
  let h = 0x811c9dc5;
  const key = `${device.code}${device.number}`;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i) & 0xff;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return (h >>> 0) % partitions;
}
