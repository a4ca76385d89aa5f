import { type Kysely, sql } from "kysely";
import { createComponentRoles } from "../component-roles.ts";

/**
 * The alerter's own login role, vigil_alerter (issue 13, least privilege):
 * until now the alerter signed in with the schema owner's URL. Its grants
 * (rules, silences and devices to read; alerts, deliveries and its
 * partition leases to write; nothing about users, keys or readings) are in
 * COMPONENT_GRANTS and applied after every migration run, like the others'.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations run beneath the typed schema
export async function up(db: Kysely<any>): Promise<void> {
  await createComponentRoles(db);
}

/** The role belongs to the PostgreSQL cluster (other Vigil databases may use it): only this database's grants go. */
// biome-ignore lint/suspicious/noExplicitAny: migrations run beneath the typed schema
export async function down(db: Kysely<any>): Promise<void> {
  const schema = sql.raw(`"${(await sql<{ s: string }>`SELECT current_schema() AS s`.execute(db)).rows[0]!.s}"`);
  await sql`REVOKE ALL ON ALL TABLES IN SCHEMA ${schema} FROM vigil_alerter`.execute(db);
  await sql`REVOKE ALL ON ALL SEQUENCES IN SCHEMA ${schema} FROM vigil_alerter`.execute(db);
  await sql`REVOKE ALL ON SCHEMA ${schema} FROM vigil_alerter`.execute(db);
}
