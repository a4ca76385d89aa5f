import { type Database, type Kysely, registerSensors } from "@vigil/db";

/** Names kept in memory at most; past it the cache starts over (ids never change). */
const MAX_CACHED = 100_000;

/**
 * Maps sensor names to the ids readings store. Receivers register a batch's
 * new names before they ack it, so here they are normally known; a name that
 * is not (a replayed dead letter, a batch from an older receiver) is added
 * without a quota. Ids never change, so the cache needs no invalidation.
 */
export class SensorDictionary {
  private readonly ids = new Map<string, number>();
  private readonly db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.db = db;
  }

  /** Ids for every name, registering the ones not seen before. */
  async resolve(names: Iterable<string>): Promise<Map<string, number>> {
    if (this.ids.size > MAX_CACHED) this.ids.clear();
    const missing = [...new Set(names)].filter((n) => !this.ids.has(n));
    if (missing.length > 0) {
      const found = await registerSensors(this.db, missing);
      if (!found.ok) throw new SensorDictionaryError(found.reason);
      for (const [name, id] of found.ids) this.ids.set(name, id);
    }
    return this.ids;
  }
}

/** The dictionary cannot take a new name (no ids left): the batch cannot be stored as it is. */
export class SensorDictionaryError extends Error {
  override name = "SensorDictionaryError";
}
