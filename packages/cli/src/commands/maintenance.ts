import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Command, InvalidArgumentError, Option } from "@commander-js/extra-typings";
import {
  type ComponentForecast,
  ComponentForecastSchema,
  ForecastStatus,
  MaintenanceKind,
  type MaintenanceRecord,
  MaintenanceRecordSchema,
} from "@vigil/client";
import type { Cli } from "../cli.ts";
import { duration, integer, time } from "../flags.ts";
import { type Column, messageJson } from "../output.ts";
import { collectPages } from "../paging.ts";
import { UsageError } from "../usage-error.ts";

const MAX_NUMBER = 2_147_483_647;
const DAY_MS = 86_400_000;

const KINDS = { preventive: MaintenanceKind.PREVENTIVE, corrective: MaintenanceKind.CORRECTIVE };
const STATUSES = {
  ok: ForecastStatus.OK,
  due: ForecastStatus.DUE,
  overdue: ForecastStatus.OVERDUE,
  stable: ForecastStatus.STABLE,
  insufficient_data: ForecastStatus.INSUFFICIENT_DATA,
};

const recordColumns: Column[] = [
  "id",
  { header: "device", value: (r) => `${r.deviceCode}-${r.deviceNumber}` },
  "site",
  "kind",
  "startTime",
  "downtime",
  "components",
  { header: "parts", value: (r) => (r.parts as Array<{ partNumber: string; quantity: number }>).map(part) },
  { header: "cost", value: (r) => (r.currency ? `${Number(r.costMinor) / 100} ${r.currency}` : "") },
  "technician",
];

const forecastColumns: Column[] = [
  { header: "device", value: (f) => `${f.deviceCode}-${f.deviceNumber}` },
  "site",
  "component",
  "status",
  "crossingTime",
  "daysToCrossing",
  "crossingTimeEarliest",
  "crossingTimeLatest",
  { header: "currentValue", value: (f) => Number((f.currentValue as number).toFixed(2)) },
  "threshold",
];

function part(p: { partNumber: string; quantity: number }): string {
  return p.quantity === 1 ? p.partNumber : `${p.partNumber}:${p.quantity}`;
}

/** PART or PART:QTY, collected (repeatable). */
function parts(text: string, previous: Array<{ partNumber: string; quantity: number }> = []) {
  const [partNumber = "", qty, ...rest] = text.split(":");
  const quantity = qty === undefined ? 1 : Number(qty);
  if (!partNumber || rest.length > 0 || !Number.isInteger(quantity) || quantity < 1 || quantity > 1000) {
    throw new InvalidArgumentError("must be a part number, optionally with a quantity from 1 to 1000: BAT-LI-4800:2");
  }
  return [...previous, { partNumber, quantity }];
}

/** An amount such as 1250.00, in minor units (cents). */
function amount(text: string): number {
  if (!/^\d{1,9}(\.\d{1,2})?$/.test(text.trim())) throw new InvalidArgumentError("must be an amount such as 1250.00");
  return Math.round(Number(text) * 100);
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** A forecast as JSON, with the days from its computation to its crossing for people to read. */
function forecastJson(f: ComponentForecast): Record<string, unknown> {
  const json = messageJson(ComponentForecastSchema, f);
  const crossing =
    f.crossingTime && f.computeTime ? Number(f.crossingTime.seconds - f.computeTime.seconds) * 1000 : undefined;
  if (crossing !== undefined) json.daysToCrossing = Math.round((crossing / DAY_MS) * 10) / 10;
  return json;
}

/** `vigil maintenance …`: MaintenanceService (reading needs maintenance:read, recording maintenance:write). */
export function maintenanceCommand(cli: Cli) {
  const maintenance = new Command("maintenance").description("the robots' maintenance log and forecasts");

  maintenance
    .command("record")
    .summary("record a maintenance; the components named are reset")
    .description(
      "record a maintenance of a robot; the components named (battery, arm1.motor, arm1.joint, …, as `maintenance forecast` lists them) are reset and their forecasts start again from the readings after it",
    )
    .requiredOption("--code <code>", "the robot's code")
    .requiredOption("--number <n>", "the robot's number", integer(1, MAX_NUMBER))
    .addOption(
      new Option("--kind <kind>", "planned, or after a failure")
        .choices(["preventive", "corrective"] as const)
        .makeOptionMandatory(),
    )
    .requiredOption("--start <time>", "when the robot went out of service (ISO 8601)", time)
    .option("--downtime <duration>", "how long it was out of service, such as 90m, 4h or 2d", duration, 0)
    .option("--component <component>", "a component serviced or replaced (repeatable)", collect)
    .option("--part <part[:qty]>", "a part used, with its quantity (repeatable)", parts)
    .option("--cost <amount>", "what it cost, such as 1250.00 (needs --currency)", amount)
    .option("--currency <code>", "ISO 4217 currency, such as EUR")
    .option("--technician <id>", "who did it: a staff or company identifier")
    .option("--notes <text>", "about the work, up to 2,000 characters; never patient information")
    .action(async (o) => {
      if (o.cost !== undefined && o.currency === undefined) throw new UsageError("--cost needs --currency");
      const { record } = await (await cli.api()).maintenance.recordMaintenance(
        {
          record: {
            deviceCode: o.code,
            deviceNumber: o.number,
            kind: KINDS[o.kind],
            startTime: timestampFromMs(o.start),
            downtime: durationFromMs(o.downtime),
            components: o.component ?? [],
            parts: o.part ?? [],
            costMinor: BigInt(o.cost ?? 0),
            currency: o.currency,
            technician: o.technician,
            notes: o.notes,
          },
        },
        cli.call,
      );
      cli.output.object(messageJson(MaintenanceRecordSchema, record ?? create(MaintenanceRecordSchema)));
    });

  maintenance
    .command("list")
    .description("maintenance records, newest first")
    .option("--code <code>", "only this robot's code")
    .option("--number <n>", "and number (with --code)", integer(1, MAX_NUMBER))
    .option("--site <site>", "only at this site")
    .addOption(new Option("--kind <kind>", "only this kind").choices(["preventive", "corrective"] as const))
    .option("--component <component>", "only records touching this component")
    .option("--from <time>", "started at or after this ISO 8601 time", time)
    .option("--to <time>", "started before this ISO 8601 time", time)
    .option("--limit <n>", "at most this many", integer(1, 100_000), 100)
    .action(async (o) => {
      if (o.number !== undefined && o.code === undefined) throw new UsageError("--number needs --code");
      if (o.from !== undefined && o.to !== undefined && o.from >= o.to)
        throw new UsageError("--from must be before --to");
      const vigil = await cli.api();
      const out = await collectPages<MaintenanceRecord>(o.limit, async (pageSize, pageToken) => {
        const page = await vigil.maintenance.listMaintenanceRecords(
          {
            deviceCode: o.code,
            deviceNumber: o.number,
            site: o.site,
            kind: o.kind === undefined ? undefined : KINDS[o.kind],
            component: o.component,
            startTime: o.from === undefined ? undefined : timestampFromMs(o.from),
            endTime: o.to === undefined ? undefined : timestampFromMs(o.to),
            pageSize,
            pageToken,
          },
          cli.call,
        );
        return [page.records, page.nextPageToken];
      });
      cli.output.list(
        out.map((r) => messageJson(MaintenanceRecordSchema, r)),
        recordColumns,
      );
    });

  maintenance
    .command("get")
    .description("one maintenance record")
    .requiredOption("--id <id>", "the record's id")
    .action(async (o) => {
      const { record } = await (await cli.api()).maintenance.getMaintenanceRecord({ id: o.id }, cli.call);
      cli.output.object(messageJson(MaintenanceRecordSchema, record ?? create(MaintenanceRecordSchema)));
    });

  maintenance
    .command("forecast")
    .description("when each component of one robot reaches its failure threshold, computed now")
    .requiredOption("--code <code>", "the robot's code")
    .requiredOption("--number <n>", "the robot's number", integer(1, MAX_NUMBER))
    .option("--component <component>", "only this component")
    .action(async (o) => {
      const { forecasts } = await (await cli.api()).maintenance.getMaintenanceForecast(
        { deviceCode: o.code, deviceNumber: o.number, component: o.component },
        cli.call,
      );
      cli.output.list(forecasts.map(forecastJson), forecastColumns);
    });

  maintenance
    .command("forecasts")
    .summary("the fleet's latest forecasts, overdue and soonest first")
    .description(
      "the fleet's latest forecasts (recomputed by the lifecycle service every FORECAST_INTERVAL_MS, and for a robot at once after a maintenance record), overdue first, then by crossing time",
    )
    .option("--site <site>", "only at this site")
    .addOption(
      new Option("--status <status...>", "only in these states").choices(
        Object.keys(STATUSES) as Array<keyof typeof STATUSES>,
      ),
    )
    .option(
      "--within <duration>",
      "only crossing before now + this (earliest end of the interval), such as 30d",
      duration,
    )
    .option("--limit <n>", "at most this many", integer(1, 100_000), 100)
    .action(async (o) => {
      const vigil = await cli.api();
      const out = await collectPages<ComponentForecast>(o.limit, async (pageSize, pageToken) => {
        const page = await vigil.maintenance.listMaintenanceForecasts(
          {
            site: o.site,
            statuses: (o.status ?? []).map((s) => STATUSES[s]),
            within: o.within === undefined ? undefined : durationFromMs(o.within),
            pageSize,
            pageToken,
          },
          cli.call,
        );
        return [page.forecasts, page.nextPageToken];
      });
      cli.output.list(out.map(forecastJson), forecastColumns);
    });

  return maintenance;
}
