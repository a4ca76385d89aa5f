import { type Database, type Kysely, sql } from "@vigil/db";

/**
 * Maps sensor names to the small ids readings store. Unknown names are
 * registered on first sight (the receiver has validated them); ids never
 * change, so the cache needs no invalidation.
 */
export class SensorDictionary {
  private readonly ids = new Map<string, number>();
  private readonly db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.db = db;
  }

  /** Ids for every name, registering the ones not seen before. */
  async resolve(names: Iterable<string>): Promise<Map<string, number>> {
    const missing = [...new Set(names)].filter((n) => !this.ids.has(n));
    if (missing.length > 0) {
      // Look up first: INSERT … ON CONFLICT burns identity values, and the id is a smallint.
      let rows = await this.select(missing);
      const unknown = missing.filter((n) => !rows.some((r) => r.name === n));
      if (unknown.length > 0) {
        await sql`INSERT INTO sensors (name) SELECT unnest(${unknown}::text[]) ON CONFLICT (name) DO NOTHING`.execute(
          this.db,
        );
        rows = await this.select(missing);
      }
      for (const r of rows) this.ids.set(r.name, r.id);
    }
    return this.ids;
  }

  private select(names: string[]) {
    return this.db.selectFrom("sensors").select(["id", "name"]).where("name", "in", names).execute();
  }
}
