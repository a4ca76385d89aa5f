import type { Database, Kysely } from "@vigil/db";
import type { AuthenticatedDevice } from "@vigil/devices";

/** Most (device, credential) pairs remembered; the oldest is forgotten beyond it. */
const DEFAULT_MAX_ENTRIES = 100_000;

/**
 * Provenance ids (reading_sources, migration 0018): one row per (device,
 * API key prefix, certificate fingerprint, this receiver), interned when a
 * stream opens and sent with each of its batches (SOURCE_HEADER), so a
 * reading costs 4 bytes and no per-batch work. Rows never change, so ids
 * are cached for the process's life (bounded: a reconnect storm of many
 * devices costs one lookup per pair, then none).
 */
export class ReadingSources {
  private readonly cache = new Map<string, number>();
  private readonly db: () => Kysely<Database>;
  private readonly receiver: string;
  private readonly maxEntries: number;

  constructor(db: () => Kysely<Database>, receiver: string, maxEntries = DEFAULT_MAX_ENTRIES) {
    this.db = db;
    this.receiver = receiver;
    this.maxEntries = maxEntries;
  }

  /** The id of the device's credential as the stream presented it, at this receiver. */
  async idFor(device: AuthenticatedDevice): Promise<number> {
    const key = `${device.id} ${device.keyPrefix} ${device.certFingerprint ?? ""}`;
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit;
    const id = await this.intern(device.id, device.keyPrefix, device.certFingerprint ?? "");
    if (this.cache.size >= this.maxEntries) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(key, id);
    return id;
  }

  private async intern(deviceId: number, keyPrefix: string, certFingerprint: string): Promise<number> {
    const db = this.db();
    const find = () =>
      db
        .selectFrom("reading_sources")
        .select("id")
        .where("device_id", "=", deviceId)
        .where("key_prefix", "=", keyPrefix)
        .where("cert_fingerprint", "=", certFingerprint)
        .where("receiver", "=", this.receiver)
        .executeTakeFirst();
    // Looked up first: an INSERT … ON CONFLICT would spend an identity value on every reconnect.
    const found = await find();
    if (found) return found.id;
    const inserted = await db
      .insertInto("reading_sources")
      .values({
        device_id: deviceId,
        key_prefix: keyPrefix,
        cert_fingerprint: certFingerprint,
        receiver: this.receiver,
      })
      .onConflict((oc) => oc.doNothing())
      .returning("id")
      .executeTakeFirst();
    if (inserted) return inserted.id;
    // Another stream of the same device inserted it first.
    const raced = await find();
    if (!raced) throw new Error("reading source vanished after a conflicting insert");
    return raced.id;
  }
}
