import { type Database, type Kysely, recordAudit, sql } from "@vigil/db";
import { FleetError } from "./fleet-errors.ts";

export interface SiteFields {
  displayName?: string;
  /** IANA time zone. */
  timeZone?: string;
  /** 1 to 24. */
  availableHoursPerDay?: number;
}

export interface SiteView {
  name: string;
  displayName: string;
  timeZone: string;
  availableHoursPerDay: number;
  createdAt: Date;
  updatedAt: Date;
  /** Devices (not deleted) whose site is this one. */
  deviceCount: number;
}

export interface ActorContext {
  db: Kysely<Database>;
  actor: string;
  traceId?: string;
}

export const SITE_NAME_PATTERN = /^[a-z][a-z0-9-]{0,62}$/;

/** Why the fields cannot be stored, or undefined. */
export function siteProblem(fields: SiteFields): string | undefined {
  if (fields.displayName !== undefined) {
    if (fields.displayName.length > 200) return "display_name must be at most 200 characters";
    if (/\p{Cc}/u.test(fields.displayName)) return "display_name must not contain control characters";
  }
  // Empty means UTC.
  if (fields.timeZone !== undefined && fields.timeZone !== "" && !isTimeZone(fields.timeZone)) {
    return "time_zone must be an IANA time zone such as Europe/London";
  }
  const hours = fields.availableHoursPerDay;
  if (hours !== undefined && !(Number.isFinite(hours) && hours >= 1 && hours <= 24)) {
    return "available_hours_per_day must be from 1 to 24";
  }
  return undefined;
}

function isTimeZone(zone: string): boolean {
  if (zone.length === 0 || zone.length > 64) return false;
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Registers a site; AlreadyExists when the name is taken. */
export async function createSite(ctx: ActorContext, name: string, fields: SiteFields): Promise<SiteView> {
  if (!SITE_NAME_PATTERN.test(name)) {
    throw new FleetError("invalid", "name must be 1 to 63 lower-case letters, digits and '-', starting with a letter");
  }
  const problem = siteProblem(fields);
  if (problem) throw new FleetError("invalid", problem);
  await ctx.db.transaction().execute(async (tx) => {
    const row = await tx
      .insertInto("sites")
      .values({
        name,
        display_name: fields.displayName ?? "",
        time_zone: fields.timeZone || "UTC",
        available_hours_per_day: fields.availableHoursPerDay ?? 24,
      })
      .onConflict((oc) => oc.column("name").doNothing())
      .returning("id")
      .executeTakeFirst();
    if (!row) throw new FleetError("exists", `site ${name} already exists`);
    await recordAudit(tx, {
      actor: ctx.actor,
      action: "site.create",
      target: `site:${name}`,
      details: { ...fields },
      traceId: ctx.traceId,
    });
  });
  return getSite(ctx.db, name);
}

/** Changes the given fields of a site. */
export async function updateSite(ctx: ActorContext, name: string, changes: SiteFields): Promise<SiteView> {
  const problem = siteProblem(changes);
  if (problem) throw new FleetError("invalid", problem);
  const set = Object.fromEntries(
    Object.entries({
      display_name: changes.displayName,
      time_zone: changes.timeZone === "" ? "UTC" : changes.timeZone,
      available_hours_per_day: changes.availableHoursPerDay,
    }).filter(([, v]) => v !== undefined),
  );
  if (Object.keys(set).length === 0) throw new FleetError("invalid", "no change given");
  await ctx.db.transaction().execute(async (tx) => {
    const row = await tx
      .updateTable("sites")
      .set({ ...set, updated_at: sql<Date>`now()` })
      .where("name", "=", name)
      .returning("id")
      .executeTakeFirst();
    if (!row) throw new FleetError("not_found", `site ${JSON.stringify(name.slice(0, 64))} does not exist`);
    await recordAudit(tx, {
      actor: ctx.actor,
      action: "site.update",
      target: `site:${name}`,
      details: { ...changes },
      traceId: ctx.traceId,
    });
  });
  return getSite(ctx.db, name);
}

function sites(db: Kysely<Database>) {
  return db
    .selectFrom("sites as s")
    .selectAll("s")
    .select((eb) =>
      eb
        .selectFrom("devices as d")
        .select(eb.fn.countAll<number>().as("n"))
        .whereRef("d.site", "=", "s.name")
        .where("d.deleted_at", "is", null)
        .as("device_count"),
    );
}

type SiteRow = Awaited<ReturnType<ReturnType<typeof sites>["execute"]>>[number];

function toView(r: SiteRow): SiteView {
  return {
    name: r.name,
    displayName: r.display_name,
    timeZone: r.time_zone,
    availableHoursPerDay: Number(r.available_hours_per_day),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    deviceCount: Number(r.device_count ?? 0),
  };
}

/** One site; NotFound when it does not exist. */
export async function getSite(db: Kysely<Database>, name: string): Promise<SiteView> {
  const row = await sites(db).where("s.name", "=", name).executeTakeFirst();
  if (!row) throw new FleetError("not_found", `site ${JSON.stringify(name.slice(0, 64))} does not exist`);
  return toView(row);
}

/** A page of sites by name, after `after`. */
export async function listSites(db: Kysely<Database>, options: { limit: number; after?: string }): Promise<SiteView[]> {
  let q = sites(db);
  if (options.after !== undefined) q = q.where("s.name", ">", options.after);
  const rows = await q.orderBy("s.name").limit(options.limit).execute();
  return rows.map(toView);
}
