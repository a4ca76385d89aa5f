import { readFile } from "node:fs/promises";
import { create, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { durationFromMs, FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import { Command, Option } from "@commander-js/extra-typings";
import {
  type Alert,
  type AlertRule,
  AlertRuleSchema,
  AlertSchema,
  AlertState,
  ChannelKind,
  CreateNotificationChannelResponseSchema,
  type Delivery,
  DeliverySchema,
  DeliveryState,
  type NotificationChannel,
  NotificationChannelSchema,
  Severity,
  type Silence,
  SilenceSchema,
} from "@vigil/client";
import type { Cli } from "../cli.ts";
import { duration, integer } from "../flags.ts";
import { type Column, messageJson } from "../output.ts";
import { collectPages } from "../paging.ts";
import { UsageError } from "../usage-error.ts";

/** Largest page the API serves; lists longer than that are fetched page by page. */
const MAX_ID = Number.MAX_SAFE_INTEGER;
/** A rule file is a few hundred bytes; anything past this is not one. */
const MAX_RULE_FILE_BYTES = 1024 * 1024;

const STATES = { firing: AlertState.FIRING, acknowledged: AlertState.ACKNOWLEDGED, resolved: AlertState.RESOLVED };
const SEVERITIES = { info: Severity.INFO, warning: Severity.WARNING, critical: Severity.CRITICAL };
const DELIVERY_STATES = {
  pending: DeliveryState.PENDING,
  succeeded: DeliveryState.SUCCEEDED,
  failed: DeliveryState.FAILED,
  skipped: DeliveryState.SKIPPED,
};

const device = (row: Record<string, unknown>) => (row.deviceCode ? `${row.deviceCode}-${row.deviceNumber}` : "");

const alertColumns: Column[] = [
  "id",
  "state",
  "severity",
  { header: "device", value: device },
  "sensor",
  "summary",
  "startTime",
  "silenced",
];
const ruleColumns: Column[] = [
  "id",
  "name",
  "severity",
  "enabled",
  { header: "condition", value: (r) => CONDITIONS.find((c) => r[c] !== undefined) ?? "" },
  "devices",
  "sensors",
  "channelIds",
];
const silenceColumns: Column[] = ["id", "matcher", "startTime", "endTime", "active", "comment", "createdBy"];
const channelColumns: Column[] = [
  "id",
  "name",
  "kind",
  {
    header: "target",
    value: (c) => (c.webhook as { url?: string } | undefined)?.url ?? (c.email as { to?: string[] } | undefined)?.to,
  },
  "rateLimitPerMinute",
  "createdBy",
];
const deliveryColumns: Column[] = [
  "id",
  "channelId",
  "alertId",
  "event",
  "state",
  "attempts",
  "lastStatus",
  "lastError",
  "nextAttemptTime",
  "deliverTime",
];
/** The JSON names of AlertRule's condition oneof. */
const CONDITIONS = ["threshold", "rateOfChange", "anomaly", "absence", "external"];

/**
 * `vigil alerts …`: AlertService as the signed-in user (scopes alerts:read to look, alerts:write to
 * acknowledge and silence, alerts:admin for rules, channels and retries); the API audits each change.
 */
export function alertsCommand(cli: Cli) {
  const alerts = new Command("alerts").description("alerts, their rules, silences and notification channels");
  const id = (what: string) => new Option("--id <id>", what).argParser(integer(1, MAX_ID)).makeOptionMandatory();

  alerts
    .command("list")
    .description("alerts, newest first")
    .addOption(
      new Option("--state <state>", "only alerts in this state").choices(
        Object.keys(STATES) as Array<keyof typeof STATES>,
      ),
    )
    .addOption(
      new Option("--severity <severity>", "only this severity").choices(
        Object.keys(SEVERITIES) as Array<keyof typeof SEVERITIES>,
      ),
    )
    .option("--code <code>", "only this device code")
    .option("--number <n>", "only this device number", integer(1, 4_294_967_295))
    .option("--sensor <sensor>", "only this sensor")
    .option("--rule <id>", "only alerts of this rule", integer(1, MAX_ID))
    .option("--limit <n>", "at most this many", integer(1, 100_000), 100)
    .action(async (o) => {
      const vigil = await cli.api();
      const filter = {
        states: o.state ? [STATES[o.state]] : [],
        severities: o.severity ? [SEVERITIES[o.severity]] : [],
        deviceCode: o.code,
        deviceNumber: o.number,
        sensor: o.sensor,
        ruleId: o.rule === undefined ? undefined : BigInt(o.rule),
      };
      const found = await collectPages<Alert>(o.limit, async (pageSize, pageToken) => {
        const page = await vigil.alerts.listAlerts({ filter, pageSize, pageToken }, cli.call);
        return [page.alerts, page.nextPageToken];
      });
      cli.output.list(
        found.map((a) => messageJson(AlertSchema, a)),
        alertColumns,
      );
    });

  alerts
    .command("get")
    .description("one alert with the readings that fired it")
    .addOption(id("the alert"))
    .action(async (o) => {
      const { alert } = await (await cli.api()).alerts.getAlert({ id: BigInt(o.id) }, cli.call);
      cli.output.object(messageJson(AlertSchema, alert ?? create(AlertSchema)));
    });

  alerts
    .command("ack")
    .description("acknowledge a firing alert: a person has seen it")
    .addOption(id("the alert"))
    .option("--comment <text>", "what is being done (up to 1000 characters)", "")
    .action(async (o) => {
      const { alert } = await (await cli.api()).alerts.acknowledgeAlert(
        { id: BigInt(o.id), comment: o.comment },
        cli.call,
      );
      cli.output.object(messageJson(AlertSchema, alert ?? create(AlertSchema)));
    });

  alerts
    .command("watch")
    .description("the open alerts, then every change as it happens, one per line (JSON lines when not a terminal)")
    .addOption(
      new Option("--state <state>", "only alerts in this state").choices(
        Object.keys(STATES) as Array<keyof typeof STATES>,
      ),
    )
    .option("--code <code>", "only this device code")
    .action(async (o) => {
      const vigil = await cli.api();
      const stream = vigil.alerts.watchAlerts(
        { filter: { states: o.state ? [STATES[o.state]] : [], deviceCode: o.code } },
        cli.call,
      );
      for await (const res of stream) {
        if (res.event.case !== "alert") continue;
        const alert = messageJson(AlertSchema, res.event.value);
        cli.io.stdout.write(
          cli.output.json
            ? `${JSON.stringify(alert)}\n`
            : `${alert.updateTime} #${alert.id} ${alert.state} ${alert.severity} ${device(alert)} ${alert.summary}\n`,
        );
      }
    });

  alertsRules(alerts.command("rules").description("what to watch, when to raise an alert and whom to tell"), cli);

  alerts
    .command("silence")
    .description("mute the notifications of matching alerts for a while (at least one matcher)")
    .option("--rule <id>", "alerts of this rule", integer(1, MAX_ID))
    .option("--code <code>", "alerts of devices with this code")
    .option("--number <n>", "alerts of the device with this number", integer(1, 4_294_967_295))
    .option("--sensor <sensor>", "alerts about this sensor")
    .addOption(
      new Option("--max-severity <severity>", "only alerts of this severity or lower").choices(
        Object.keys(SEVERITIES) as Array<keyof typeof SEVERITIES>,
      ),
    )
    .requiredOption("--for <duration>", "how long, such as 30m or 2h (1 minute to 7 days)", duration)
    .option("--comment <text>", "why, for the people who see muted alerts", "")
    .action(async (o) => {
      const { silence } = await (await cli.api()).alerts.createSilence(
        {
          matcher: {
            ruleId: o.rule === undefined ? undefined : BigInt(o.rule),
            deviceCode: o.code,
            deviceNumber: o.number,
            sensor: o.sensor,
            maxSeverity: o.maxSeverity ? SEVERITIES[o.maxSeverity] : undefined,
          },
          duration: durationFromMs(o.for),
          comment: o.comment,
        },
        cli.call,
      );
      cli.output.object(messageJson(SilenceSchema, silence ?? create(SilenceSchema)));
    });

  alerts
    .command("unsilence")
    .description("end a silence now")
    .addOption(id("the silence"))
    .action(async (o) => {
      const { silence } = await (await cli.api()).alerts.deleteSilence({ id: BigInt(o.id) }, cli.call);
      cli.output.object(messageJson(SilenceSchema, silence ?? create(SilenceSchema)));
    });

  alerts
    .command("silences")
    .description("silences")
    .command("list")
    .description("silences, newest first (those that ended only with --all)")
    .option("--all", "include silences that ended")
    .option("--limit <n>", "at most this many", integer(1, 100_000), 1000)
    .action(async (o) => {
      const vigil = await cli.api();
      const found = await collectPages<Silence>(o.limit, async (pageSize, pageToken) => {
        const page = await vigil.alerts.listSilences({ includeExpired: o.all === true, pageSize, pageToken }, cli.call);
        return [page.silences, page.nextPageToken];
      });
      cli.output.list(
        found.map((s) => messageJson(SilenceSchema, s)),
        silenceColumns,
      );
    });

  alertsChannels(alerts.command("channels").description("where notifications go (admins)"), cli);
  alertsDeliveries(alerts.command("deliveries").description("notifications sent, pending and failed"), cli);
  return alerts;
}

function alertsRules(rules: Command, cli: Cli): void {
  const id = new Option("--id <id>", "the rule").argParser(integer(1, MAX_ID)).makeOptionMandatory();

  rules
    .command("list")
    .description("the rules, by id")
    .option("--limit <n>", "at most this many", integer(1, 100_000), 10_000)
    .action(async (o) => {
      const vigil = await cli.api();
      const found = await collectPages<AlertRule>(o.limit, async (pageSize, pageToken) => {
        const page = await vigil.alerts.listAlertRules({ pageSize, pageToken }, cli.call);
        return [page.rules, page.nextPageToken];
      });
      cli.output.list(
        found.map((r) => messageJson(AlertRuleSchema, r)),
        ruleColumns,
      );
    });

  rules
    .command("create")
    .description("add a rule from a file: an AlertRule as the API's JSON (docs/alerts.md); - reads stdin")
    .requiredOption("--file <file>", "the rule's JSON, or - for stdin")
    .action(async (o) => {
      const { rule } = await readRuleFile(o.file, cli);
      const created = await (await cli.api()).alerts.createAlertRule({ rule }, cli.call);
      cli.output.object(messageJson(AlertRuleSchema, created.rule ?? create(AlertRuleSchema)));
    });

  rules
    .command("update")
    .description("change the fields the file holds (an AlertRule as JSON; the others stay as they are)")
    .addOption(id)
    .requiredOption("--file <file>", "the fields' new values as JSON, or - for stdin")
    .action(async (o) => {
      const { rule, fields } = await readRuleFile(o.file, cli);
      const paths = fields.filter((f) => f !== "id");
      if (paths.length === 0) throw new UsageError("the file names no field to change");
      rule.id = BigInt(o.id);
      const updated = await (await cli.api()).alerts.updateAlertRule(
        { rule, updateMask: create(FieldMaskSchema, { paths }) },
        cli.call,
      );
      cli.output.object(messageJson(AlertRuleSchema, updated.rule ?? create(AlertRuleSchema)));
    });

  for (const [name, enabled] of [
    ["enable", true],
    ["disable", false],
  ] as const) {
    rules
      .command(name)
      .description(enabled ? "evaluate the rule again" : "stop the rule; its open alerts resolve")
      .addOption(id)
      .action(async (o) => {
        const updated = await (await cli.api()).alerts.updateAlertRule(
          { rule: { id: BigInt(o.id), enabled }, updateMask: create(FieldMaskSchema, { paths: ["enabled"] }) },
          cli.call,
        );
        cli.output.object(messageJson(AlertRuleSchema, updated.rule ?? create(AlertRuleSchema)));
      });
  }

  rules
    .command("delete")
    .description("remove a rule; its open alerts resolve")
    .addOption(id)
    .action(async (o) => {
      const { resolvedAlerts } = await (await cli.api()).alerts.deleteAlertRule({ id: BigInt(o.id) }, cli.call);
      cli.output.object({ resolvedAlerts: String(resolvedAlerts) });
    });
}

function alertsChannels(channels: Command, cli: Cli): void {
  const rate = new Option("--rate-per-minute <n>", "most notifications a minute (default 60)").argParser(
    integer(1, 10_000),
  );

  channels
    .command("list")
    .description("notification channels (never their secrets)")
    .option("--limit <n>", "at most this many", integer(1, 100_000), 10_000)
    .action(async (o) => {
      const vigil = await cli.api();
      const found = await collectPages<NotificationChannel>(o.limit, async (pageSize, pageToken) => {
        const page = await vigil.alerts.listNotificationChannels({ pageSize, pageToken }, cli.call);
        return [page.channels, page.nextPageToken];
      });
      cli.output.list(
        found.map((c) => messageJson(NotificationChannelSchema, c)),
        channelColumns,
      );
    });

  channels
    .command("add-webhook")
    .description("a webhook channel: signed JSON POSTs; prints the signing secret ONCE (save it)")
    .requiredOption("--name <name>", "a unique name")
    .requiredOption("--url <url>", "http:// or https:// (private addresses only if the alerter allows them)")
    .addOption(rate)
    .action(async (o) => {
      const created = await (await cli.api()).alerts.createNotificationChannel(
        {
          channel: {
            name: o.name,
            kind: ChannelKind.WEBHOOK,
            config: { case: "webhook", value: { url: o.url } },
            rateLimitPerMinute: o.ratePerMinute,
          },
        },
        cli.call,
      );
      cli.output.object(messageJson(CreateNotificationChannelResponseSchema, created));
    });

  channels
    .command("add-email")
    .description("an email channel, sent through the alerter's SMTP server")
    .requiredOption("--name <name>", "a unique name")
    .requiredOption("--to <addresses>", "comma-separated addresses (1 to 20)", (text) =>
      text.split(",").map((a) => a.trim()),
    )
    .addOption(rate)
    .action(async (o) => {
      const created = await (await cli.api()).alerts.createNotificationChannel(
        {
          channel: {
            name: o.name,
            kind: ChannelKind.EMAIL,
            config: { case: "email", value: { to: o.to } },
            rateLimitPerMinute: o.ratePerMinute,
          },
        },
        cli.call,
      );
      cli.output.object(messageJson(CreateNotificationChannelResponseSchema, created));
    });

  channels
    .command("test")
    .description("send a test notification and show how its first attempt went")
    .addOption(new Option("--id <id>", "the channel").argParser(integer(1, MAX_ID)).makeOptionMandatory())
    .action(async (o) => {
      const { delivery } = await (await cli.api()).alerts.testNotificationChannel({ id: BigInt(o.id) }, cli.call);
      cli.output.object(messageJson(DeliverySchema, delivery ?? create(DeliverySchema)));
    });
}

function alertsDeliveries(deliveries: Command, cli: Cli): void {
  deliveries
    .command("list")
    .description("deliveries, newest first")
    .addOption(
      new Option("--state <state>", "only deliveries in this state").choices(
        Object.keys(DELIVERY_STATES) as Array<keyof typeof DELIVERY_STATES>,
      ),
    )
    .option("--channel <id>", "only this channel's", integer(1, MAX_ID))
    .option("--alert <id>", "only this alert's", integer(1, MAX_ID))
    .option("--limit <n>", "at most this many", integer(1, 100_000), 100)
    .action(async (o) => {
      const vigil = await cli.api();
      const found = await collectPages<Delivery>(o.limit, async (pageSize, pageToken) => {
        const page = await vigil.alerts.listDeliveries(
          {
            state: o.state ? DELIVERY_STATES[o.state] : undefined,
            channelId: o.channel === undefined ? undefined : BigInt(o.channel),
            alertId: o.alert === undefined ? undefined : BigInt(o.alert),
            pageSize,
            pageToken,
          },
          cli.call,
        );
        return [page.deliveries, page.nextPageToken];
      });
      cli.output.list(
        found.map((d) => messageJson(DeliverySchema, d)),
        deliveryColumns,
      );
    });

  deliveries
    .command("retry")
    .description("send a failed delivery again, with the same webhook-id")
    .addOption(new Option("--id <id>", "the delivery").argParser(integer(1, MAX_ID)).makeOptionMandatory())
    .action(async (o) => {
      const { delivery } = await (await cli.api()).alerts.retryDelivery({ id: BigInt(o.id) }, cli.call);
      cli.output.object(messageJson(DeliverySchema, delivery ?? create(DeliverySchema)));
    });
}

/**
 * A rule file: an AlertRule in the API's JSON (what CreateAlertRule's `rule` holds, so the same text
 * works with curl), or a whole request `{"rule": {…}}`. Returns the rule and the proto names of
 * the fields it sets, which `rules update` sends as the update mask.
 */
async function readRuleFile(file: string, cli: Cli): Promise<{ rule: AlertRule; fields: string[] }> {
  const text = file === "-" ? await readStdin(cli) : await readFile(file, "utf8");
  if (text.length > MAX_RULE_FILE_BYTES) throw new UsageError(`${file} is larger than 1 MiB: not a rule`);
  let json: JsonValue;
  try {
    json = JSON.parse(text) as JsonValue;
  } catch (err) {
    throw new UsageError(`${file === "-" ? "stdin" : file} is not JSON: ${(err as Error).message}`);
  }
  if (json && typeof json === "object" && !Array.isArray(json) && Object.keys(json).join() === "rule") {
    json = json.rule as JsonValue;
  }
  if (!json || typeof json !== "object" || Array.isArray(json)) throw new UsageError("a rule must be a JSON object");
  let rule: AlertRule;
  try {
    rule = fromJson(AlertRuleSchema, json);
  } catch (err) {
    throw new UsageError(`not an AlertRule (docs/alerts.md): ${(err as Error).message}`);
  }
  const fields = Object.keys(json).map(
    (key) => AlertRuleSchema.fields.find((f) => f.jsonName === key || f.name === key)?.name ?? key,
  );
  return { rule, fields };
}

async function readStdin(cli: Cli): Promise<string> {
  let text = "";
  for await (const chunk of cli.io.stdin) {
    text += chunk;
    if (text.length > MAX_RULE_FILE_BYTES) break;
  }
  return text;
}
