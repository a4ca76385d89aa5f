import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Command, Option } from "@commander-js/extra-typings";
import {
  GetProcedureTelemetryResponseSchema,
  type Procedure,
  ProcedureSchema,
  ProcedureState,
  type TelemetryReading,
  TelemetryReadingSchema,
} from "@vigil/client";
import type { Cli } from "../cli.ts";
import { integer, time } from "../flags.ts";
import { type Column, messageJson } from "../output.ts";
import { collectPages } from "../paging.ts";
import { UsageError } from "../usage-error.ts";

const MAX_NUMBER = 2_147_483_647;

const STATES = {
  in_progress: ProcedureState.IN_PROGRESS,
  completed: ProcedureState.COMPLETED,
  aborted: ProcedureState.ABORTED,
};

const procedureColumns: Column[] = [
  "id",
  { header: "device", value: (p) => `${p.deviceCode}-${p.deviceNumber}` },
  "site",
  "type",
  "surgeonId",
  "startTime",
  "duration",
  "state",
  "outcome.result",
];

/**
 * `vigil procedures …`: ProcedureService, read side (procedures:read). Robots
 * (or the systems beside them) record procedures through the API itself.
 */
export function proceduresCommand(cli: Cli) {
  const procedures = new Command("procedures").description("procedures robots performed, their outcomes and telemetry");

  procedures
    .command("list")
    .description("procedures, newest first")
    .option("--code <code>", "only this robot's code")
    .option("--number <n>", "and number (with --code)", integer(1, MAX_NUMBER))
    .option("--site <site>", "only at this site")
    .option("--type <type>", "only this type, such as cholecystectomy")
    .option("--surgeon <id>", "only this surgeon's pseudonymous identifier")
    .addOption(
      new Option("--state <state>", "only in this state").choices(Object.keys(STATES) as Array<keyof typeof STATES>),
    )
    .option("--from <time>", "started at or after this ISO 8601 time", time)
    .option("--to <time>", "started before this ISO 8601 time", time)
    .option("--limit <n>", "at most this many", integer(1, 100_000), 100)
    .action(async (o) => {
      if (o.number !== undefined && o.code === undefined) throw new UsageError("--number needs --code");
      if (o.from !== undefined && o.to !== undefined && o.from >= o.to)
        throw new UsageError("--from must be before --to");
      const vigil = await cli.api();
      const out = await collectPages<Procedure>(o.limit, async (pageSize, pageToken) => {
        const page = await vigil.procedures.listProcedures(
          {
            deviceCode: o.code,
            deviceNumber: o.number,
            site: o.site,
            type: o.type,
            surgeonId: o.surgeon,
            state: o.state === undefined ? undefined : STATES[o.state],
            startTime: o.from === undefined ? undefined : timestampFromMs(o.from),
            endTime: o.to === undefined ? undefined : timestampFromMs(o.to),
            pageSize,
            pageToken,
          },
          cli.call,
        );
        return [page.procedures, page.nextPageToken];
      });
      cli.output.list(
        out.map((p) => messageJson(ProcedureSchema, p)),
        procedureColumns,
      );
    });

  procedures
    .command("get")
    .description("one procedure with its outcome")
    .requiredOption("--id <id>", "the procedure's id")
    .action(async (o) => {
      const { procedure } = await (await cli.api()).procedures.getProcedure({ id: o.id }, cli.call);
      cli.output.object(messageJson(ProcedureSchema, procedure ?? create(ProcedureSchema)));
    });

  procedures
    .command("telemetry")
    .summary("how the robot behaved during a procedure: per-sensor statistics")
    .description(
      "per-sensor statistics (count, min, max, avg, p50, p95, p99) of the robot's readings during the procedure, and with --readings the first readings of that window, ordered by time",
    )
    .requiredOption("--id <id>", "the procedure's id")
    .option("--sensor <sensor>", "only this sensor")
    .option("--readings <n>", "also this many readings", integer(0, 100_000), 0)
    .action(async (o) => {
      const vigil = await cli.api();
      const first = await vigil.procedures.getProcedureTelemetry(
        { id: o.id, sensor: o.sensor, pageSize: Math.max(1, Math.min(1000, o.readings)) },
        cli.call,
      );
      const readings: TelemetryReading[] = o.readings > 0 ? [...first.readings] : [];
      let pageToken = o.readings > 0 ? first.nextPageToken : "";
      while (pageToken && readings.length < o.readings) {
        const page = await vigil.procedures.getProcedureTelemetry(
          { id: o.id, sensor: o.sensor, pageSize: Math.min(1000, o.readings - readings.length), pageToken },
          cli.call,
        );
        readings.push(...page.readings);
        pageToken = page.nextPageToken;
      }
      const json = messageJson(GetProcedureTelemetryResponseSchema, { ...first, readings: [], nextPageToken: "" });
      json.readings = readings.slice(0, o.readings).map((r) => messageJson(TelemetryReadingSchema, r));
      delete json.nextPageToken;
      if (cli.output.json) {
        cli.output.object(json);
        return;
      }
      cli.output.list(json.sensors as Array<Record<string, unknown>>, [
        "sensor",
        "count",
        "min",
        "max",
        "avg",
        "p50",
        "p95",
        "p99",
      ]);
      if (o.readings > 0) cli.output.list(json.readings as Array<Record<string, unknown>>, ["time", "sensor", "value"]);
    });

  return procedures;
}
