import { readFileSync } from "node:fs";
import { create } from "@bufbuild/protobuf";
import { durationFromMs, FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import { Command, Option, type OptionValues } from "@commander-js/extra-typings";
import {
  type CreateDeviceResponse,
  CreateDeviceResponseSchema,
  type Device,
  DeviceSchema,
  DeviceStatus,
  RateLimitSchema,
  RegisterDeviceCertificateResponseSchema,
  RotateDeviceCertificateResponseSchema,
  RotateDeviceKeyResponseSchema,
} from "@vigil/client";
import type { Cli } from "../cli.ts";
import { boolean, duration, integer, keyValue } from "../flags.ts";
import { type Column, messageJson } from "../output.ts";
import { collectPages } from "../paging.ts";
import { CliError, UsageError } from "../usage-error.ts";

const MAX_NUMBER = 2_147_483_647;

const STATUSES = {
  active: DeviceStatus.ACTIVE,
  in_maintenance: DeviceStatus.IN_MAINTENANCE,
  retired: DeviceStatus.RETIRED,
};
const statusChoices = Object.keys(STATUSES) as Array<keyof typeof STATUSES>;
/** CreateDevice calls in flight during a bulk creation. */
const CREATE_CONCURRENCY = 4;

const deviceColumns: Column[] = [
  "code",
  "number",
  "online",
  "lastSeenTime",
  "kind",
  "site",
  "status",
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
    .option("--site <site>", "only devices at this site")
    .option("--kind <kind>", "only devices of this kind")
    .option("--label <key=value>", "only devices with this label (repeatable: all of them)", keyValue)
    .addOption(new Option("--status <status>", "only devices with this status").choices(statusChoices))
    .option("--deleted", "include deleted devices")
    .option("--limit <n>", "at most this many", integer(1, 100_000), 1000)
    .action(async (o) => {
      const vigil = await cli.api();
      const out = await collectPages<Device>(o.limit, async (pageSize, pageToken) => {
        const page = await vigil.devices.listDevices(
          {
            code: o.code,
            online: o.online,
            site: o.site,
            kind: o.kind,
            labels: o.label,
            status: o.status === undefined ? undefined : STATUSES[o.status],
            showDeleted: o.deleted === true,
            pageSize,
            pageToken,
          },
          cli.call,
        );
        return [page.devices, page.nextPageToken];
      });
      cli.output.list(
        out.map((d) => messageJson(DeviceSchema, d)),
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

  deviceRef(
    devices
      .command("update")
      .summary("change a device's fields; only those given")
      .description(
        "change the fields given and leave the others (UpdateDevice with an update mask); labels and the rate limit are replaced whole",
      ),
  )
    .option("--site <site>", "the site it is assigned to (empty: none)")
    .option("--kind <kind>", "free-form kind, such as surgical_robot")
    .option("--model <model>", "free-form model")
    .option("--manufacturer <name>", "manufacturer")
    .option("--serial-number <serial>", "serial number")
    .option("--firmware <version>", "firmware version")
    .addOption(new Option("--status <status>", "in service, out for maintenance, or for good").choices(statusChoices))
    .option("--label <key=value>", "the labels (repeatable; replaces them all)", keyValue)
    .option("--clear-labels", "remove every label")
    .option("--rate-per-s <n>", "own rate limit: readings per second", integer(1, 4_294_967_295))
    .option("--burst <n>", "own rate limit: burst in readings (default: --rate-per-s)", integer(1, 4_294_967_295))
    .option("--default-rate", "drop the own rate limit: the receivers' default applies")
    .action(async (o) => {
      if (o.label && o.clearLabels) throw new UsageError("--label and --clear-labels exclude each other");
      if (o.burst !== undefined && o.ratePerS === undefined) throw new UsageError("--burst needs --rate-per-s");
      if (o.ratePerS !== undefined && o.defaultRate)
        throw new UsageError("--rate-per-s and --default-rate exclude each other");
      const fields: Array<[string, boolean]> = [
        ["site", o.site !== undefined],
        ["kind", o.kind !== undefined],
        ["model", o.model !== undefined],
        ["manufacturer", o.manufacturer !== undefined],
        ["serial_number", o.serialNumber !== undefined],
        ["firmware", o.firmware !== undefined],
        ["status", o.status !== undefined],
        ["labels", o.label !== undefined || o.clearLabels === true],
        ["rate_limit", o.ratePerS !== undefined || o.defaultRate === true],
      ];
      const paths = fields.filter(([, given]) => given).map(([path]) => path);
      if (paths.length === 0) throw new UsageError("nothing to change: give at least one field (see --help)");
      const { device } = await (await cli.api()).devices.updateDevice(
        {
          device: {
            code: o.code,
            number: o.number,
            site: o.site,
            kind: o.kind,
            model: o.model,
            manufacturer: o.manufacturer,
            serialNumber: o.serialNumber,
            firmware: o.firmware,
            status: o.status === undefined ? undefined : STATUSES[o.status],
            labels: o.label ?? {},
            rateLimit:
              o.ratePerS === undefined
                ? undefined
                : create(RateLimitSchema, { readingsPerSecond: o.ratePerS, burst: o.burst ?? o.ratePerS }),
          },
          updateMask: create(FieldMaskSchema, { paths }),
        },
        cli.call,
      );
      cli.output.object(messageJson(DeviceSchema, device ?? create(DeviceSchema)));
    });

  deviceRef(
    devices
      .command("register-cert")
      .summary("register a client certificate (mTLS) to the device")
      .description(
        "register an X.509 client certificate (PEM, e.g. from vigil certs device; never its key): the receiver knows the device by its SHA-256 fingerprint once the certificate verifies against RECEIVER_CLIENT_CA_FILE",
      ),
  )
    .requiredOption("--cert <file>", "the certificate, PEM")
    .action(async (o) => {
      const certificatePem = readPem(o.cert);
      const registered = await (await cli.api()).devices.registerDeviceCertificate(
        { code: o.code, number: o.number, certificatePem },
        cli.call,
      );
      cli.output.object(messageJson(RegisterDeviceCertificateResponseSchema, registered));
    });

  deviceRef(
    devices
      .command("rotate-cert")
      .description("register a new client certificate; the old ones keep working for the grace period"),
  )
    .requiredOption("--cert <file>", "the new certificate, PEM")
    .option("--grace <duration>", "how long the old certificates keep working (0s: stop now)", duration, 24 * 3_600_000)
    .action(async (o) => {
      const rotated = await (await cli.api()).devices.rotateDeviceCertificate(
        { code: o.code, number: o.number, certificatePem: readPem(o.cert), gracePeriod: durationFromMs(o.grace) },
        cli.call,
      );
      cli.output.object(messageJson(RotateDeviceCertificateResponseSchema, rotated));
    });

  deviceRef(devices.command("revoke-cert").description("stop one client certificate at once; its streams are closed"))
    .requiredOption("--fingerprint <sha256>", "the certificate's SHA-256 fingerprint, as listed by devices get")
    .action(async (o) => {
      const { device } = await (await cli.api()).devices.revokeDeviceCertificate(
        { code: o.code, number: o.number, fingerprint: o.fingerprint },
        cli.call,
      );
      cli.output.object(messageJson(DeviceSchema, device ?? create(DeviceSchema)));
    });

  deviceRef(devices.command("enable").description("let a disabled device connect again with its keys")).action(
    async (o) => {
      const { device } = await (await cli.api()).devices.enableDevice({ code: o.code, number: o.number }, cli.call);
      cli.output.object(messageJson(DeviceSchema, device ?? create(DeviceSchema)));
    },
  );

  deviceRef(
    devices
      .command("delete")
      .description("soft delete: the device is disabled and hidden from listings; its data is kept"),
  ).action(async (o) => {
    const { device } = await (await cli.api()).devices.deleteDevice({ code: o.code, number: o.number }, cli.call);
    cli.output.object(messageJson(DeviceSchema, device ?? create(DeviceSchema)));
  });

  return devices;
}

/** A certificate file's text, bounded (a device certificate is a few KiB). */
function readPem(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new UsageError(`cannot read --cert ${file}: ${(err as Error).message}`);
  }
  if (text.length > 64 * 1024) throw new UsageError(`--cert ${file} is larger than a certificate can be`);
  return text;
}
