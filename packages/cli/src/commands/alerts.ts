import { readFileSync } from "node:fs";
import {
  AlertError,
  type AlertState,
  acknowledgeAlert,
  createChannel,
  createRule,
  createSilence,
  DEFAULT_DELIVERY_DEADLINE_MS,
  deleteRule,
  endSilence,
  getAlert,
  getRule,
  listAlerts,
  listChannels,
  listDeliveries,
  listRules,
  listSilences,
  type RuleSpec,
  retryDelivery,
  type Severity,
  updateRule,
} from "@vigil/alerts";
import { parseDuration } from "@vigil/runtime";
import { intFlag, parseFlags, stringFlag } from "../args.ts";
import type { CliContext } from "../cli-context.ts";
import { UsageError } from "../usage-error.ts";

export const ALERTS_USAGE = `vigil alerts list [--state firing|acknowledged|resolved] [--code CODE] [--number N] [--rule ID] [--limit N]
  vigil alerts get --id ID
  vigil alerts ack --id ID [--comment TEXT]
  vigil alerts rules list
  vigil alerts rules create --file RULE.json      a rule as JSON (docs/alerts.md, "Rules from the CLI"); - reads stdin
  vigil alerts rules enable|disable|delete --id ID
  vigil alerts silence [--rule ID] [--code CODE] [--number N] [--sensor S] [--max-severity S] --for 2h [--comment TEXT]
  vigil alerts silences list [--all]
  vigil alerts unsilence --id ID
  vigil alerts channels list
  vigil alerts channels add-webhook --name NAME --url URL [--rate-per-minute N]   prints the signing secret once
  vigil alerts channels add-email --name NAME --to a@x,b@y [--rate-per-minute N]
  vigil alerts deliveries list [--state pending|succeeded|failed|skipped] [--channel ID] [--alert ID]
  vigil alerts deliveries retry --id ID`;

const STATES = ["firing", "acknowledged", "resolved"] as const;
const SEVERITIES = ["info", "warning", "critical"] as const;

/** `vigil alerts …`: the same operations as AlertService, on the database, audited as cli:<os user>. */
export async function alertsCommand(ctx: CliContext, args: string[], stdin: NodeJS.ReadStream): Promise<unknown> {
  const db = ctx.database.db;
  const who = { db, actor: ctx.actor };
  const [action, ...rest] = args;
  const sub = rest[0];
  const id = (values: { id?: string }) => intFlag(values.id, "id", ALERTS_USAGE, 1, Number.MAX_SAFE_INTEGER);
  switch (action) {
    case "list": {
      const v = parseFlags(
        rest,
        {
          state: { type: "string" },
          code: { type: "string" },
          number: { type: "string" },
          rule: { type: "string" },
          limit: { type: "string" },
        },
        ALERTS_USAGE,
      );
      if (v.state !== undefined && !STATES.includes(v.state as AlertState)) {
        throw new UsageError(`--state must be firing, acknowledged or resolved\n${ALERTS_USAGE}`);
      }
      return listAlerts(
        db,
        {
          states: v.state ? [v.state as AlertState] : undefined,
          deviceCode: v.code,
          deviceNumber: v.number === undefined ? undefined : intFlag(v.number, "number", ALERTS_USAGE),
          ruleId: v.rule === undefined ? undefined : intFlag(v.rule, "rule", ALERTS_USAGE),
        },
        { limit: v.limit === undefined ? 100 : intFlag(v.limit, "limit", ALERTS_USAGE, 1, 10_000) },
      );
    }
    case "get":
      return getAlert(db, id(parseFlags(rest, { id: { type: "string" } }, ALERTS_USAGE)));
    case "ack": {
      const v = parseFlags(rest, { id: { type: "string" }, comment: { type: "string" } }, ALERTS_USAGE);
      return acknowledgeAlert(who, id(v), v.comment ?? "");
    }
    case "rules": {
      const v = parseFlags(rest.slice(1), { id: { type: "string" }, file: { type: "string" } }, ALERTS_USAGE);
      switch (sub) {
        case "list":
          return listRules(db, { limit: 10_000 });
        case "create": {
          const file = stringFlag(v.file, "file", ALERTS_USAGE);
          const text = file === "-" ? await readAll(stdin) : readFileSync(file, "utf8");
          return createRule(who, ruleFromJson(text));
        }
        case "enable":
        case "disable": {
          const rule = await getRule(db, id(v));
          return updateRule(who, rule.id, { ...rule, enabled: sub === "enable" }, ["enabled"]);
        }
        case "delete":
          return { resolvedAlerts: await deleteRule(who, id(v)) };
        default:
          throw new UsageError(`unknown alerts rules command ${sub ?? "(none)"}\n${ALERTS_USAGE}`);
      }
    }
    case "silence": {
      const v = parseFlags(
        rest,
        {
          rule: { type: "string" },
          code: { type: "string" },
          number: { type: "string" },
          sensor: { type: "string" },
          "max-severity": { type: "string" },
          for: { type: "string" },
          comment: { type: "string" },
        },
        ALERTS_USAGE,
      );
      const durationMs = parseDuration(stringFlag(v.for, "for", ALERTS_USAGE));
      if (durationMs === undefined) throw new UsageError(`--for must be a duration such as 30m or 2h\n${ALERTS_USAGE}`);
      const maxSeverity = v["max-severity"];
      if (maxSeverity !== undefined && !SEVERITIES.includes(maxSeverity as Severity)) {
        throw new UsageError(`--max-severity must be info, warning or critical\n${ALERTS_USAGE}`);
      }
      return createSilence(who, {
        matcher: {
          ruleId: v.rule === undefined ? undefined : intFlag(v.rule, "rule", ALERTS_USAGE),
          deviceCode: v.code,
          deviceNumber: v.number === undefined ? undefined : intFlag(v.number, "number", ALERTS_USAGE),
          sensor: v.sensor,
          maxSeverity: maxSeverity as Severity | undefined,
        },
        durationMs,
        comment: v.comment ?? "",
      });
    }
    case "silences": {
      const v = parseFlags(rest.slice(1), { all: { type: "boolean" } }, ALERTS_USAGE);
      if (sub !== "list") throw new UsageError(`unknown alerts silences command ${sub ?? "(none)"}\n${ALERTS_USAGE}`);
      return listSilences(db, { includeExpired: v.all === true, limit: 10_000 });
    }
    case "unsilence":
      return endSilence(who, id(parseFlags(rest, { id: { type: "string" } }, ALERTS_USAGE)));
    case "channels": {
      const v = parseFlags(
        rest.slice(1),
        {
          name: { type: "string" },
          url: { type: "string" },
          to: { type: "string" },
          "rate-per-minute": { type: "string" },
        },
        ALERTS_USAGE,
      );
      const rate =
        v["rate-per-minute"] === undefined
          ? 0
          : intFlag(v["rate-per-minute"], "rate-per-minute", ALERTS_USAGE, 1, 10_000);
      switch (sub) {
        case "list":
          return listChannels(db, { limit: 10_000 });
        case "add-webhook": {
          const { channel, secret } = await createChannel(who, {
            name: stringFlag(v.name, "name", ALERTS_USAGE),
            kind: "webhook",
            url: stringFlag(v.url, "url", ALERTS_USAGE),
            ratePerMinute: rate,
          });
          return { channel, signingSecret: secret };
        }
        case "add-email": {
          const { channel } = await createChannel(who, {
            name: stringFlag(v.name, "name", ALERTS_USAGE),
            kind: "email",
            to: stringFlag(v.to, "to", ALERTS_USAGE).split(","),
            ratePerMinute: rate,
          });
          return { channel };
        }
        default:
          throw new UsageError(`unknown alerts channels command ${sub ?? "(none)"}\n${ALERTS_USAGE}`);
      }
    }
    case "deliveries": {
      const v = parseFlags(
        rest.slice(1),
        { id: { type: "string" }, state: { type: "string" }, channel: { type: "string" }, alert: { type: "string" } },
        ALERTS_USAGE,
      );
      if (sub === "retry") return retryDelivery(who, id(v), DEFAULT_DELIVERY_DEADLINE_MS);
      if (sub !== "list") throw new UsageError(`unknown alerts deliveries command ${sub ?? "(none)"}\n${ALERTS_USAGE}`);
      const state = v.state as "pending" | "succeeded" | "failed" | "skipped" | undefined;
      if (state !== undefined && !["pending", "succeeded", "failed", "skipped"].includes(state)) {
        throw new UsageError(`--state must be pending, succeeded, failed or skipped\n${ALERTS_USAGE}`);
      }
      const rows = await listDeliveries(
        db,
        {
          state,
          channelId: v.channel === undefined ? undefined : intFlag(v.channel, "channel", ALERTS_USAGE),
          alertId: v.alert === undefined ? undefined : intFlag(v.alert, "alert", ALERTS_USAGE),
        },
        { limit: 1_000 },
      );
      return rows.map(({ payload: _p, ...d }) => d);
    }
    default:
      throw new UsageError(`unknown alerts command ${action ?? "(none)"}\n${ALERTS_USAGE}`);
  }
}

/** A rule file: the domain's RuleSpec as JSON, with defaults for what it leaves out. */
function ruleFromJson(text: string): RuleSpec {
  let raw: Partial<RuleSpec>;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`the rule is not JSON: ${(err as Error).message}`);
  }
  if (!raw || typeof raw !== "object" || !raw.condition) throw new AlertError("invalid", "condition: is required");
  return {
    name: String(raw.name ?? ""),
    description: String(raw.description ?? ""),
    severity: (raw.severity ?? "warning") as Severity,
    devices: raw.devices ?? {},
    sensors: raw.sensors ?? [],
    condition: raw.condition,
    channelIds: raw.channelIds ?? [],
    enabled: raw.enabled ?? true,
  };
}

async function readAll(stdin: NodeJS.ReadStream): Promise<string> {
  let text = "";
  for await (const chunk of stdin) text += chunk;
  return text;
}
