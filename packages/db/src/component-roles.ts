import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import { type Kysely, sql } from "kysely";

/** The services that get a database role of their own. */
export const COMPONENTS = ["receiver", "writer", "query", "lifecycle", "alerter"] as const;
export type Component = (typeof COMPONENTS)[number];

/** The PostgreSQL role of a component: `vigil_receiver`, … */
export function componentRole(component: Component): string {
  return `vigil_${component}`;
}

/** A table privilege, or SELECT on some columns only: `SELECT (a, b)`. */
type Privilege = "SELECT" | "INSERT" | "UPDATE" | "DELETE" | `SELECT (${string})`;

/**
 * What each component may do, table by table: the only place grants are
 * decided. Anything not listed is denied (the receiver cannot read `users`,
 * nobody but the schema owner runs DDL, nobody may UPDATE or DELETE the
 * audit log). The lifecycle service is a member of the schema owner's role: it
 * creates and drops partitions and chunks, which only an owner may.
 *
 * Every table of the schema must appear here (a test checks it), so a new
 * table cannot ship readable by everyone or usable by no one by accident.
 * Sequences of identity columns follow their table's INSERT.
 */
export const COMPONENT_GRANTS: Record<string, Partial<Record<Exclude<Component, "lifecycle">, Privilege[]>>> = {
  // The alerter reads devices to match rules' selectors (code, number, kind, labels, site).
  devices: {
    receiver: ["SELECT", "UPDATE"],
    writer: ["SELECT", "UPDATE"],
    query: ["SELECT", "INSERT", "UPDATE"],
    alerter: ["SELECT"],
  },
  device_keys: { receiver: ["SELECT"], query: ["SELECT", "INSERT", "UPDATE"] },
  device_certificates: { receiver: ["SELECT"], query: ["SELECT", "INSERT", "UPDATE"] },
  // Receivers register new names under a per-device quota (sensor-names.ts); writers and corrections too.
  sensors: { receiver: ["SELECT", "INSERT"], writer: ["SELECT", "INSERT"], query: ["SELECT", "INSERT"] },
  // A correction that changes a reading's sensor or time deletes and re-inserts it (an UPDATE cannot move
  // a row to another chunk), its prior values kept in reading_history: the query service needs all four.
  readings: { writer: ["INSERT"], query: ["SELECT", "UPDATE", "INSERT", "DELETE"] },
  // Provenance (migration 0018): receivers intern (device, credential, receiver) when a stream opens;
  // writers only copy the id into readings.source_id; the query service shows it to admins.
  reading_sources: { receiver: ["SELECT", "INSERT"], query: ["SELECT"] },
  // The receiver counts a device's recent rejects for its quota: those columns only, never payloads.
  dead_letters: {
    receiver: ["INSERT", "SELECT (device_id, source, created_at)"],
    writer: ["INSERT"],
    query: ["SELECT", "UPDATE"],
  },
  // Reversible corrections (the query service's UpdateReadings, DeleteReadings, UndeleteReadings).
  reading_corrections: { query: ["SELECT", "INSERT"] },
  reading_history: { query: ["SELECT", "INSERT"] },
  audit_log: { receiver: ["INSERT"], writer: ["INSERT"], query: ["SELECT", "INSERT"], alerter: ["INSERT"] },
  // Advanced only by the audit trigger, which runs as the schema owner (SECURITY DEFINER).
  audit_chain_head: { query: ["SELECT"] },
  users: { query: ["SELECT", "INSERT", "UPDATE", "DELETE"] },
  refresh_tokens: { query: ["SELECT", "INSERT", "UPDATE", "DELETE"] },
  // Single sign-on (the query service's /auth/oidc routes and SsoService): identities it links,
  // sign-ins in flight and hand-off codes, both used once (DELETE … RETURNING).
  user_identities: { query: ["SELECT", "INSERT", "UPDATE"] },
  oidc_pending_signins: { query: ["SELECT", "INSERT", "DELETE"] },
  oidc_signin_codes: { query: ["SELECT", "INSERT", "DELETE"] },
  archive_exports: { query: ["SELECT"] },
  archive_holds: { query: ["SELECT"] },
  // Plain PostgreSQL's rollups: written by triggers on readings (writer's inserts, query's corrections).
  rollup_state: { writer: ["SELECT"], query: ["SELECT"] },
  rollup_invalidations: { writer: ["INSERT"], query: ["INSERT"] },
  readings_1m_rollup: { query: ["SELECT"] },
  readings_1h_rollup: { query: ["SELECT"] },
  readings_1m: { query: ["SELECT"] },
  readings_1h: { query: ["SELECT"] },
  // The whole fleet's hourly aggregate (the lifecycle service refreshes it as the owner).
  readings_1h_fleet: { query: ["SELECT"] },
  readings_1h_fleet_rollup: { query: ["SELECT"] },
  // Alerts (issue 14): the query service's AlertService manages rules, channels, silences and
  // acknowledgements. The alerter (vigil_alerter) reads rules and silences, creates the external
  // rules it raises gap alerts through, moves alerts through their lifecycle, queues and sends
  // notifications (a channel's token bucket is an UPDATE), and shares partitions among replicas.
  notification_channels: { query: ["SELECT", "INSERT", "UPDATE", "DELETE"], alerter: ["SELECT", "UPDATE"] },
  alert_rules: { query: ["SELECT", "INSERT", "UPDATE", "DELETE"], alerter: ["SELECT", "INSERT"] },
  alerts: { query: ["SELECT", "INSERT", "UPDATE", "DELETE"], alerter: ["SELECT", "INSERT", "UPDATE"] },
  silences: { query: ["SELECT", "INSERT", "UPDATE", "DELETE"], alerter: ["SELECT"] },
  alert_deliveries: { query: ["SELECT", "INSERT", "UPDATE", "DELETE"], alerter: ["SELECT", "INSERT", "UPDATE"] },
  alerter_members: { query: ["SELECT"], alerter: ["SELECT", "INSERT", "UPDATE", "DELETE"] },
  alerter_partitions: { query: ["SELECT"], alerter: ["SELECT", "INSERT", "UPDATE"] },
  // The fleet layer (issue 15): FleetService, ProcedureService and MaintenanceService write these;
  // a maintenance record recomputes its robot's forecasts at once, the lifecycle service all of them.
  sites: { query: ["SELECT", "INSERT", "UPDATE"] },
  procedures: { query: ["SELECT", "INSERT", "UPDATE"] },
  maintenance_records: { query: ["SELECT", "INSERT", "UPDATE"] },
  maintenance_forecasts: { query: ["SELECT", "INSERT", "UPDATE", "DELETE"] },
  // Kysely's bookkeeping: the schema owner's alone.
  kysely_migration: {},
  kysely_migration_lock: {},
};

/**
 * Creates the components' login roles when missing (roles belong to the
 * PostgreSQL cluster, so several Vigil databases on one cluster share
 * them). They have no password until `setComponentPasswords` gives them
 * one; until then they can log in only where pg_hba trusts them.
 */
// biome-ignore lint/suspicious/noExplicitAny: runs beneath the typed schema
export async function createComponentRoles(db: Kysely<any>): Promise<void> {
  for (const component of COMPONENTS) {
    const role = componentRole(component);
    // Another database's migration on the same cluster may create it at the same moment.
    await sql
      .raw(`
      DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${role}') THEN
          CREATE ROLE ${role} LOGIN;
        END IF;
      EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
      END $$`)
      .execute(db);
  }
}

/**
 * Grants each component exactly COMPONENT_GRANTS on this database's tables
 * (revoking anything else it had), and makes the lifecycle service a member of the
 * schema owner's role. Idempotent; run after every migration.
 */
// biome-ignore lint/suspicious/noExplicitAny: runs beneath the typed schema
export async function applyComponentGrants(db: Kysely<any>): Promise<ComponentGrantsOutcome> {
  await createComponentRoles(db);
  const { rows: tables } = await sql<{ name: string; kind: string }>`
    SELECT c.relname AS name, c.relkind AS kind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm') AND NOT c.relispartition`.execute(db);
  const roles = COMPONENTS.filter((c) => c !== "lifecycle").map(componentRole);
  await sql.raw(`REVOKE ALL ON SCHEMA ${ident(await currentSchema(db))} FROM ${roles.join(", ")}`).execute(db);
  await sql.raw(`GRANT USAGE ON SCHEMA ${ident(await currentSchema(db))} TO ${roles.join(", ")}`).execute(db);
  for (const { name } of tables) {
    await sql.raw(`REVOKE ALL ON ${ident(name)} FROM ${roles.join(", ")}`).execute(db);
    for (const [component, privileges] of Object.entries(COMPONENT_GRANTS[name] ?? {})) {
      if (privileges.length === 0) continue;
      await sql
        .raw(`GRANT ${privileges.join(", ")} ON ${ident(name)} TO ${componentRole(component as Component)}`)
        .execute(db);
    }
  }
  // Identity columns draw from sequences: USAGE for whoever inserts.
  const { rows: sequences } = await sql<{ seq: string; table: string }>`
    SELECT s.relname AS seq, t.relname AS table FROM pg_depend d
    JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
    JOIN pg_class t ON t.oid = d.refobjid
    JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = current_schema()
    WHERE d.deptype IN ('a', 'i')`.execute(db);
  for (const { seq, table } of sequences) {
    await sql.raw(`REVOKE ALL ON SEQUENCE ${ident(seq)} FROM ${roles.join(", ")}`).execute(db);
    for (const [component, privileges] of Object.entries(COMPONENT_GRANTS[table] ?? {})) {
      if (privileges.includes("INSERT")) {
        await sql.raw(`GRANT USAGE ON SEQUENCE ${ident(seq)} TO ${componentRole(component as Component)}`).execute(db);
      }
    }
  }
  // Functions the components' queries and triggers call (sketches in stats, the audit chain).
  await sql
    .raw(`GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ${ident(await currentSchema(db))} TO ${roles.join(", ")}`)
    .execute(db);
  // The lifecycle service acts as the schema owner (partitions, chunks, policies). A superuser's
  // membership cannot be granted usefully (it would not confer superuser, and ownership of
  // everything else it owns would come along): then the lifecycle service uses the owner's own URL.
  const { rows: owner } = await sql<{ owner: string; superuser: boolean }>`
    SELECT pg_get_userbyid(c.relowner) AS owner, r.rolsuper AS superuser
    FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE c.relname = 'readings' AND c.relnamespace = current_schema()::regnamespace`.execute(
    db,
  );
  const ownerRole = owner[0];
  if (!ownerRole || ownerRole.superuser) return { lifecycleActsAsOwner: false };
  try {
    // Each statement commits on its own: a refusal here (PostgreSQL 16+ asks for ADMIN OPTION
    // on the owner's role) leaves the grants above in place.
    await sql.raw(`GRANT ${ident(ownerRole.owner)} TO ${componentRole("lifecycle")}`).execute(db);
    return { lifecycleActsAsOwner: true };
  } catch {
    return { lifecycleActsAsOwner: false };
  }
}

/** What applyComponentGrants could not do: false when the lifecycle service must use the schema owner's own URL. */
export interface ComponentGrantsOutcome {
  lifecycleActsAsOwner: boolean;
}

async function currentSchema(db: Kysely<unknown>): Promise<string> {
  const { rows } = await sql<{ s: string }>`SELECT current_schema() AS s`.execute(db);
  return rows[0]!.s;
}

function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Tables of the schema that COMPONENT_GRANTS does not mention (should be none). */
// biome-ignore lint/suspicious/noExplicitAny: runs beneath the typed schema
export async function tablesWithoutGrants(db: Kysely<any>): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`
    SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm') AND NOT c.relispartition
    ORDER BY 1`.execute(db);
  return rows.map((r) => r.name).filter((name) => !(name in COMPONENT_GRANTS));
}

/**
 * Gives the components' roles passwords. The password travels as a
 * SCRAM-SHA-256 verifier computed here, so the plaintext never reaches the
 * server (or its statement log).
 */
export async function setComponentPasswords(
  // biome-ignore lint/suspicious/noExplicitAny: runs beneath the typed schema
  db: Kysely<any>,
  passwords: Partial<Record<Component, string>>,
): Promise<Component[]> {
  const set: Component[] = [];
  for (const component of COMPONENTS) {
    const password = passwords[component];
    if (!password) continue;
    await sql.raw(`ALTER ROLE ${componentRole(component)} LOGIN PASSWORD '${scramVerifier(password)}'`).execute(db);
    set.push(component);
  }
  return set;
}

/** A SCRAM-SHA-256 verifier as PostgreSQL stores it (RFC 5802, 4096 iterations). */
export function scramVerifier(password: string, salt = randomBytes(16), iterations = 4096): string {
  const salted = pbkdf2Sync(password.normalize("NFKC"), salt, iterations, 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  const storedKey = createHash("sha256").update(clientKey).digest();
  const serverKey = createHmac("sha256", salted).update("Server Key").digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}
