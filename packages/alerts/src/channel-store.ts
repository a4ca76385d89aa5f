import { randomBytes } from "node:crypto";
import { isIP } from "node:net";
import { type Database, type Kysely, type NotificationChannelsTable, recordAudit } from "@vigil/db";
import type { Selectable } from "kysely";
import { AlertError } from "./alert-error.ts";
import type { ActorContext } from "./rule-store.ts";

export type ChannelRow = Selectable<NotificationChannelsTable>;

export type ChannelSpec =
  | { name: string; kind: "webhook"; url: string; ratePerMinute: number }
  | { name: string; kind: "email"; to: string[]; ratePerMinute: number };

/** A channel as listed: never its secret. */
export interface ChannelView {
  id: number;
  name: string;
  kind: "webhook" | "email";
  url?: string;
  to?: string[];
  ratePerMinute: number;
  createdBy: string;
  createdAt: Date;
}

export const DEFAULT_RATE_PER_MINUTE = 60;
const EMAIL = /^[^\s@<>(),;:"\\]{1,64}@[A-Za-z0-9.-]{1,253}$/;

/**
 * Creates a channel; a webhook channel gets a Standard Webhooks signing
 * secret, returned here once. A webhook URL must be http(s) with a host and
 * no credentials; whether its address may be reached is checked by the
 * alerter at every attempt (after DNS), not here.
 */
export async function createChannel(
  ctx: ActorContext,
  spec: ChannelSpec,
): Promise<{ channel: ChannelView; secret: string }> {
  const name = spec.name.trim();
  if (name.length < 1 || name.length > 100) throw new AlertError("invalid", "name: must be 1 to 100 characters");
  const rate = spec.ratePerMinute || DEFAULT_RATE_PER_MINUTE;
  if (!Number.isInteger(rate) || rate < 1 || rate > 10_000) {
    throw new AlertError("invalid", "rate_limit_per_minute: must be from 1 to 10000");
  }
  let config: Record<string, unknown>;
  let secret = "";
  if (spec.kind === "webhook") {
    config = { url: checkedWebhookUrl(spec.url) };
    secret = `whsec_${randomBytes(32).toString("base64")}`;
  } else if (spec.kind === "email") {
    if (spec.to.length < 1 || spec.to.length > 20) throw new AlertError("invalid", "email.to: 1 to 20 addresses");
    for (const a of spec.to) if (!EMAIL.test(a)) throw new AlertError("invalid", `email.to: "${a}" is not an address`);
    config = { to: [...new Set(spec.to)] };
  } else {
    throw new AlertError("invalid", "kind: must be WEBHOOK or EMAIL");
  }
  return ctx.db.transaction().execute(async (tx) => {
    const row = await tx
      .insertInto("notification_channels")
      .values({
        name,
        kind: spec.kind,
        config: JSON.stringify(config),
        secret,
        rate_per_minute: rate,
        rate_tokens: rate,
        created_by: ctx.actor,
      })
      .returningAll()
      .executeTakeFirstOrThrow()
      .catch((err: Error) => {
        if (/notification_channels_name/.test(err.message)) {
          throw new AlertError("exists", `a channel named "${name}" exists already`);
        }
        throw err;
      });
    await recordAudit(tx, {
      actor: ctx.actor,
      action: "notification_channel.create",
      target: `notification_channel:${row.id}`,
      // The secret never goes to the audit log.
      details: { name, kind: spec.kind, ...config, ratePerMinute: rate },
      traceId: ctx.traceId,
    });
    return { channel: toChannelView(row), secret };
  });
}

export async function listChannels(
  db: Kysely<Database>,
  page: { limit: number; afterId?: number },
): Promise<ChannelView[]> {
  let q = db.selectFrom("notification_channels").selectAll().where("deleted_at", "is", null);
  if (page.afterId !== undefined) q = q.where("id", ">", page.afterId);
  const rows = await q.orderBy("id").limit(page.limit).execute();
  return rows.map(toChannelView);
}

/** The channel with its secret, for the alerter sending through it. */
export async function channelForSending(db: Kysely<Database>, id: number): Promise<ChannelRow | undefined> {
  return db.selectFrom("notification_channels").selectAll().where("id", "=", id).executeTakeFirst();
}

export function toChannelView(r: ChannelRow): ChannelView {
  const config = r.config as { url?: string; to?: string[] };
  return {
    id: Number(r.id),
    name: r.name,
    kind: r.kind,
    ...(r.kind === "webhook" ? { url: config.url } : { to: config.to }),
    ratePerMinute: r.rate_per_minute,
    createdBy: r.created_by,
    createdAt: r.created_at,
  };
}

function checkedWebhookUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new AlertError("invalid", "webhook.url: not a URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    throw new AlertError("invalid", "webhook.url: must be http or https");
  if (!url.hostname) throw new AlertError("invalid", "webhook.url: needs a host");
  if (url.username || url.password) throw new AlertError("invalid", "webhook.url: must not carry credentials");
  if (raw.length > 2_000) throw new AlertError("invalid", "webhook.url: at most 2000 characters");
  // A literal address is checked again at every attempt; this only catches the obvious.
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (isIP(host) === 0 && !/^[A-Za-z0-9.-]+$/.test(host)) throw new AlertError("invalid", "webhook.url: bad host");
  return url.toString();
}
