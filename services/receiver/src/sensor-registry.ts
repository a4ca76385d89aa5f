import { type Database, type Kysely, registerSensors, type SensorRegistration } from "@vigil/db";
import type { ColumnarBatch } from "@vigil/proto";

export interface SensorRegistryOptions {
  /** New names one device may add per window (0: none; every sensor must be known). */
  maxNewPerDevice: number;
  windowMs: number;
  /** Names remembered as registered; past it the memory starts over. */
  maxCached?: number;
}

/**
 * The sensor names this receiver knows to be in the dictionary. A batch
 * naming only known sensors costs a Map lookup per series; one naming new
 * ones has them registered (within the device's quota) before it is
 * appended, so a batch is never acked while its sensors cannot be stored.
 */
export class SensorRegistry {
  private readonly known = new Set<string>();
  private readonly db: Kysely<Database>;
  private readonly options: SensorRegistryOptions;
  private readonly maxCached: number;

  constructor(db: Kysely<Database>, options: SensorRegistryOptions) {
    this.db = db;
    this.options = options;
    this.maxCached = options.maxCached ?? 100_000;
  }

  /** The batch's sensor names not known to be registered; empty on the hot path. */
  unknownNames(batch: ColumnarBatch): string[] {
    const unknown: string[] = [];
    for (const s of batch.series) if (!this.known.has(s.sensor)) unknown.push(s.sensor);
    return unknown;
  }

  /**
   * Registers the names for the device (names that exist already cost
   * nothing), or says why they cannot be. Throws on database errors: the
   * caller retries, holding the batch unacked.
   */
  async register(deviceId: number, names: string[]): Promise<SensorRegistration> {
    const result = await registerSensors(this.db, names, {
      deviceId,
      maxNew: this.options.maxNewPerDevice,
      windowMs: this.options.windowMs,
    });
    if (result.ok) {
      if (this.known.size + names.length > this.maxCached) this.known.clear();
      for (const name of result.ids.keys()) this.known.add(name);
    }
    return result;
  }
}
