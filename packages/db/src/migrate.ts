import type { Kysely } from "kysely";
import { type Migration, type MigrationProvider, Migrator } from "kysely/migration";
import { applyComponentGrants } from "./component-roles.ts";
import * as core from "./migrations/0001-core.ts";
import * as deviceTrust from "./migrations/0002-device-trust.ts";
import * as users from "./migrations/0003-users.ts";
import * as lifecycle from "./migrations/0004-lifecycle.ts";
import * as sketchBinInline from "./migrations/0005-sketch-bin-inline.ts";
import * as deletedReadingsIndex from "./migrations/0006-deleted-readings-index.ts";
import * as userTokenVersion from "./migrations/0007-user-token-version.ts";
import * as wideSensorIds from "./migrations/0008-wide-sensor-ids.ts";
import * as deadLetterBounds from "./migrations/0009-dead-letter-bounds.ts";
import * as readingHistory from "./migrations/0010-reading-history.ts";
import * as policiesRunByMaintainer from "./migrations/0011-policies-run-by-maintainer.ts";
import * as fleetAggregate from "./migrations/0012-fleet-aggregate.ts";
import * as alerts from "./migrations/0013-alerts.ts";
import * as fleet from "./migrations/0014-fleet.ts";
import * as trust from "./migrations/0015-trust.ts";
import * as userLifecycle from "./migrations/0016-user-lifecycle.ts";
import * as singleSignOn from "./migrations/0017-single-sign-on.ts";
import * as provenance from "./migrations/0018-provenance.ts";
import * as alerterRole from "./migrations/0019-alerter-role.ts";
import * as readingsTimeSeriesIndex from "./migrations/0020-readings-time-series-index.ts";

/**
 * Every migration, in order. A static list instead of a folder scan, so the
 * set is fixed at build time and works the same in images and tests.
 */
const migrations: Record<string, Migration> = {
  "0001-core": core,
  "0002-device-trust": deviceTrust,
  "0003-users": users,
  "0004-lifecycle": lifecycle,
  "0005-sketch-bin-inline": sketchBinInline,
  "0006-deleted-readings-index": deletedReadingsIndex,
  "0007-user-token-version": userTokenVersion,
  "0008-wide-sensor-ids": wideSensorIds,
  "0009-dead-letter-bounds": deadLetterBounds,
  "0010-reading-history": readingHistory,
  "0011-policies-run-by-maintainer": policiesRunByMaintainer,
  "0012-fleet-aggregate": fleetAggregate,
  "0013-alerts": alerts,
  "0014-fleet": fleet,
  "0015-trust": trust,
  "0016-user-lifecycle": userLifecycle,
  "0017-single-sign-on": singleSignOn,
  "0018-provenance": provenance,
  "0019-alerter-role": alerterRole,
  "0020-readings-time-series-index": readingsTimeSeriesIndex,
};

const provider: MigrationProvider = { getMigrations: async () => migrations };

export interface MigrationOutcome {
  /** Names of the migrations this call applied. */
  applied: string[];
  /** The lifecycle service's role is a member of the schema owner's (else it must use the owner's URL). */
  lifecycleActsAsOwner: boolean;
}

/**
 * Brings the schema to the latest version. Kysely's Migrator takes a lock,
 * so several processes starting together apply each migration once.
 * (Kysely<any>: the migrations predate any typed schema.)
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations run before and beneath any typed schema
export async function migrateToLatest(db: Kysely<any>): Promise<MigrationOutcome> {
  const migrator = new Migrator({ db, provider });
  const { error, results = [] } = await migrator.migrateToLatest();
  if (error) {
    const failed = results.find((r) => r.status === "Error")?.migrationName ?? "unknown";
    throw new Error(`migration ${failed} failed: ${describe(error)}`, { cause: error });
  }
  // Grants follow the tables every time: a table a later migration adds gets exactly its row of COMPONENT_GRANTS.
  const grants = await applyComponentGrants(db);
  return {
    applied: results.filter((r) => r.status === "Success").map((r) => r.migrationName),
    lifecycleActsAsOwner: grants.lifecycleActsAsOwner,
  };
}

/**
 * Brings the schema to exactly the named migration (up or down): for tests
 * that check a migration against a database filled under the one before.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations run before and beneath any typed schema
export async function migrateTo(db: Kysely<any>, name: string): Promise<MigrationOutcome> {
  if (!(name in migrations)) throw new Error(`no migration named ${name}`);
  const migrator = new Migrator({ db, provider });
  const { error, results = [] } = await migrator.migrateTo(name);
  if (error) {
    const failed = results.find((r) => r.status === "Error")?.migrationName ?? "unknown";
    throw new Error(`migration ${failed} failed: ${describe(error)}`, { cause: error });
  }
  const grants = await applyComponentGrants(db);
  return {
    applied: results.filter((r) => r.status === "Success").map((r) => r.migrationName),
    lifecycleActsAsOwner: grants.lifecycleActsAsOwner,
  };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Names of the migrations not yet applied to this database (all of them on an empty one). */
// biome-ignore lint/suspicious/noExplicitAny: as migrateToLatest
export async function pendingMigrations(db: Kysely<any>): Promise<string[]> {
  const known = await new Migrator({ db, provider }).getMigrations();
  return known.filter((m) => m.executedAt === undefined).map((m) => m.name);
}
