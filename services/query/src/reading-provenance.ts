import { create } from "@bufbuild/protobuf";
import type { Database, Kysely } from "@vigil/db";
import { type ReadingProvenance, ReadingProvenanceSchema } from "@vigil/proto";

/** Who may see where readings came from (credentials and receivers): admins. */
export const PROVENANCE_SCOPE = "readings:provenance";

/** Most sources remembered; the oldest is forgotten beyond it. */
const MAX_CACHED = 10_000;

/**
 * Resolves readings' source ids (readings.source_id, migration 0018) to
 * what an admin sees: key prefix, certificate fingerprint and serial,
 * receiver. A source row never changes once written, so answers are
 * cached; a page of readings costs at most one small lookup, and usually
 * none. A certificate's serial is read from its registration.
 */
export class ReadingProvenanceResolver {
  private readonly db: Kysely<Database>;
  private readonly cache = new Map<number, ReadingProvenance>();

  constructor(db: Kysely<Database>) {
    this.db = db;
  }

  /** The provenance of each id; ids with no source row (none should exist) are left out. */
  async resolve(ids: Iterable<number | null>): Promise<Map<number, ReadingProvenance>> {
    const out = new Map<number, ReadingProvenance>();
    const missing: number[] = [];
    for (const id of new Set(ids)) {
      if (id === null) continue;
      const hit = this.cache.get(id);
      if (hit) out.set(id, hit);
      else missing.push(id);
    }
    if (missing.length === 0) return out;
    const rows = await this.db
      .selectFrom("reading_sources as s")
      .leftJoin("device_certificates as c", "c.fingerprint", "s.cert_fingerprint")
      .select(["s.id", "s.key_prefix", "s.cert_fingerprint", "s.receiver", "c.serial"])
      .where("s.id", "in", missing)
      .execute();
    for (const row of rows) {
      const provenance = create(ReadingProvenanceSchema, {
        keyPrefix: row.key_prefix,
        certificateFingerprint: row.cert_fingerprint,
        certificateSerial: row.serial ?? "",
        receiver: row.receiver,
      });
      if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value as number);
      this.cache.set(row.id, provenance);
      out.set(row.id, provenance);
    }
    return out;
  }
}
