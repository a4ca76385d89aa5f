import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { Command, Option, type OptionValues } from "@commander-js/extra-typings";
import {
  type CreateDeviceResponse,
  CreateDeviceResponseSchema,
  type Device,
  DeviceSchema,
  RateLimitSchema,
  RotateDeviceKeyResponseSchema,
} from "@vigil/client";
import type { Cli } from "../cli.ts";
import { boolean, duration, integer, keyValue } from "../flags.ts";
import { type Column, messageJson } from "../output.ts";
import { CliError, UsageError } from "../usage-error.ts";

const MAX_NUMBER = 2_147_483_647;
/** CreateDevice calls in flight during a bulk creation. */
const CREATE_CONCURRENCY = 4;

const deviceColumns: Column[] = [
  "code",
  "number",
  "online",
  "lastSeenTime",
  "kind",
  "site",
  { header: "keys", value: (d) => (d.keys as Array<{ prefix: string }>).map((k) => k.prefix) },
  "disableTime",
];

/** --code and --number, naming one device. */
function deviceRef<A extends unknown[], O extends OptionValues, G extends OptionValues>(command: Command<A, O, G>) {
  return command
    .requiredOption("--code <code>", "device code (capital letters)")
    .requiredOption("--number <n>", "device number", integer(1, MAX_NUMBER));
}

/** `vigil devices …`: DeviceService (admins: scope devices:admin). */
export function devicesCommand(cli: Cli) {
  const devices = new Command("devices").description("register devices and manage their API keys (admins)");

  devices
    .command("create")
    .summary("register devices; prints each API key once")
    .description(
      "register devices CODE-N .. CODE-(N+count-1); prints each API key ONCE (save the output). The output has one shape with or without --count: a list of {device, apiKey}.",
    )
    .requiredOption("--code <code>", "device code (capital letters)")
    .requiredOption("--number <n>", "number of the first device", integer(1, MAX_NUMBER))
    .option("--count <count>", "how many devices", integer(1, 100_000), 1)
    .option("--kind <kind>", "free-form kind, such as surgical_robot")
    .option("--model <model>", "free-form model")
    .option("--site <site>", "free-form site, such as theatre-3")
    .option("--label <key=value>", "a label (repeatable)", keyValue)
    .option("--rate-per-s <n>", "own rate limit: readings per second", integer(1, 4_294_967_295))
    .option("--burst <n>", "own rate limit: burst in readings (default: --rate-per-s)", integer(1, 4_294_967_295))
    .action(async (o) => {
      if (o.number + o.count - 1 > MAX_NUMBER) throw new UsageError(`--number + --count must stay below ${MAX_NUMBER}`);
      if (o.burst !== undefined && o.ratePerS === undefined) throw new UsageError("--burst needs --rate-per-s");
      const vigil = await cli.api();
      const rateLimit =
        o.ratePerS === undefined
          ? undefined
          : create(RateLimitSchema, { readingsPerSecond: o.ratePerS, burst: o.burst ?? o.ratePerS });
      const created: Array<CreateDeviceResponse | undefined> = new Array(o.count);
      const progress = o.count > 1 ? cli.progress("creating devices", o.count) : undefined;
      let next = 0;
      let done = 0;
      let failure: unknown;
      // A few calls in flight; the first failure stops new ones, and what was created is printed anyway:
      // those keys are shown nowhere else.
      const worker = async () => {
        while (failure === undefined && next < o.count && !cli.io.signal.aborted) {
          const i = next++;
          try {
            created[i] = await vigil.devices.createDevice(
              {
                code: o.code,
                number: o.number + i,
                kind: o.kind,
                model: o.model,
                site: o.site,
                labels: o.label,
                rateLimit,
              },
              cli.call,
            );
            progress?.update(++done, `${o.code}-${o.number + i}`);
          } catch (err) {
            failure ??= err;
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(CREATE_CONCURRENCY, o.count) }, worker));
      progress?.stop();
      const rows = created.filter((c) => c !== undefined).map((c) => messageJson(CreateDeviceResponseSchema, c));
      if (rows.length > 0 || failure === undefined) {
        cli.output.list(rows, ["device.code", "device.number", "apiKey"]);
      }
      if (failure !== undefined) {
        if (rows.length > 0) cli.warn(`${rows.length} of ${o.count} devices were created (printed above) before:`);
        throw failure;
      }
      if (cli.io.signal.aborted) throw new CliError(`interrupted: ${rows.length} of ${o.count} devices created`);
    });

  devices
    .command("list")
    .description("devices with presence, last seen time and key prefixes, by code and number")
    .option("--code <code>", "only this code")
    .addOption(new Option("--online <bool>", "only online (true) or offline (false) devices").argParser(boolean))
    .option("--limit <n>", "at most this many", integer(1, 100_000), 1000)
    .action(async (o) => {
      const vigil = await cli.api();
      const out: Device[] = [];
      let pageToken = "";
      do {
        const page = await vigil.devices.listDevices(
          { code: o.code, online: o.online, pageSize: Math.min(1000, o.limit - out.length), pageToken },
          cli.call,
        );
        out.push(...page.devices);
        pageToken = page.nextPageToken;
      } while (pageToken && out.length < o.limit);
      cli.output.list(
        out.slice(0, o.limit).map((d) => messageJson(DeviceSchema, d)),
        deviceColumns,
      );
    });

  deviceRef(devices.command("get").description("one device with its keys and presence")).action(async (o) => {
    const { device } = await (await cli.api()).devices.getDevice({ code: o.code, number: o.number }, cli.call);
    cli.output.object(messageJson(DeviceSchema, device ?? create(DeviceSchema)));
  });

  deviceRef(
    devices
      .command("rotate-key")
      .description("issue a new key, printed once; the old keys keep working for the grace period"),
  )
    .option("--grace <duration>", "how long the old keys keep working (0s: stop now)", duration, 24 * 3_600_000)
    .action(async (o) => {
      const rotated = await (await cli.api()).devices.rotateDeviceKey(
        { code: o.code, number: o.number, gracePeriod: durationFromMs(o.grace) },
        cli.call,
      );
      cli.output.object(messageJson(RotateDeviceKeyResponseSchema, rotated));
    });

  deviceRef(devices.command("revoke-key").description("stop one key at once; its streams are closed"))
    .requiredOption("--prefix <prefix>", "the key's prefix, as listed by devices get")
    .action(async (o) => {
      const { device } = await (await cli.api()).devices.revokeDeviceKey(
        { code: o.code, number: o.number, prefix: o.prefix },
        cli.call,
      );
      cli.output.object(messageJson(DeviceSchema, device ?? create(DeviceSchema)));
    });

  deviceRef(devices.command("disable").description("refuse every key of the device and close its streams")).action(
    async (o) => {
      const { device } = await (await cli.api()).devices.disableDevice({ code: o.code, number: o.number }, cli.call);
      cli.output.object(messageJson(DeviceSchema, device ?? create(DeviceSchema)));
    },
  );

  return devices;
}
