import { readFileSync } from "node:fs";
import {
  createDevice,
  DEFAULT_KEY_GRACE_MS,
  type DeviceView,
  disableDevice,
  getDevice,
  listDevices,
  registerDeviceCertificate,
  revokeDeviceCertificate,
  revokeDeviceKey,
  rotateDeviceCertificate,
  rotateDeviceKey,
} from "@vigil/devices";
import { parseDuration } from "@vigil/runtime";
import { intFlag, parseFlags, stringFlag } from "../args.ts";
import type { CliContext } from "../cli-context.ts";
import { UsageError } from "../usage-error.ts";

export const DEVICES_USAGE = `vigil devices create --code CODE --number N [--count C] [--kind K] [--model M] [--site S]
                      [--label key=value ...] [--rate-per-s R --burst B]
      registers devices CODE-N .. CODE-(N+C-1) and prints each API key ONCE, as JSON
  vigil devices list [--code CODE] [--online true|false] [--limit N]
  vigil devices get --code CODE --number N
  vigil devices rotate-key --code CODE --number N [--grace 24h]
      prints the new key once; the old keys keep working for the grace period (0s: stop now)
  vigil devices revoke-key --code CODE --number N --prefix PREFIX
  vigil devices disable --code CODE --number N
  vigil devices register-cert --code CODE --number N --cert FILE
      registers a client certificate (PEM, e.g. from vigil certs device) for mTLS: the receiver
      knows the device by its SHA-256 fingerprint once it verifies against RECEIVER_CLIENT_CA_FILE
  vigil devices rotate-cert --code CODE --number N --cert FILE [--grace 24h]
      registers a new certificate; the old ones keep working for the grace period (0s: stop now)
  vigil devices revoke-cert --code CODE --number N --fingerprint SHA256`;

const ref = { code: { type: "string" }, number: { type: "string" } } as const;

/** `vigil devices …` */
export async function devicesCommand(ctx: CliContext, args: string[]): Promise<unknown> {
  const [action, ...rest] = args;
  const admin = { db: ctx.database.db, actor: ctx.actor, publish: ctx.publish };
  const deviceRef = (v: { code?: string; number?: string }) => ({
    code: stringFlag(v.code, "code", DEVICES_USAGE),
    number: intFlag(v.number, "number", DEVICES_USAGE),
  });
  switch (action) {
    case "create": {
      const v = parseFlags(
        rest,
        {
          ...ref,
          count: { type: "string" },
          kind: { type: "string" },
          model: { type: "string" },
          site: { type: "string" },
          label: { type: "string", multiple: true },
          "rate-per-s": { type: "string" },
          burst: { type: "string" },
        },
        DEVICES_USAGE,
      );
      const first = deviceRef(v);
      const count = v.count === undefined ? 1 : intFlag(v.count, "count", DEVICES_USAGE, 1, 100_000);
      const rateLimit =
        v["rate-per-s"] === undefined
          ? undefined
          : {
              perSecond: intFlag(v["rate-per-s"], "rate-per-s", DEVICES_USAGE),
              burst: intFlag(v.burst ?? v["rate-per-s"], "burst", DEVICES_USAGE),
            };
      const labels = Object.fromEntries(
        (v.label ?? []).map((l) => {
          const at = l.indexOf("=");
          if (at < 1) throw new UsageError(`--label must be key=value, got ${JSON.stringify(l)}`);
          return [l.slice(0, at), l.slice(at + 1)];
        }),
      );
      const created = [];
      for (let n = first.number; n < first.number + count; n++) {
        const { apiKey } = await createDevice(admin, {
          code: first.code,
          number: n,
          kind: v.kind,
          model: v.model,
          site: v.site,
          labels,
          rateLimit,
        });
        created.push({ code: first.code, number: n, apiKey });
      }
      return count === 1 ? created[0] : created;
    }
    case "list": {
      const v = parseFlags(
        rest,
        { code: { type: "string" }, online: { type: "string" }, limit: { type: "string" } },
        DEVICES_USAGE,
      );
      if (v.online !== undefined && v.online !== "true" && v.online !== "false") {
        throw new UsageError(`--online must be true or false\n${DEVICES_USAGE}`);
      }
      const devices = await listDevices(ctx.database.db, {
        code: v.code,
        online: v.online === undefined ? undefined : v.online === "true",
        limit: v.limit === undefined ? 1000 : intFlag(v.limit, "limit", DEVICES_USAGE, 1, 100_000),
      });
      return devices.map(printable);
    }
    case "get":
      return printable(await getDevice(ctx.database.db, deviceRef(parseFlags(rest, ref, DEVICES_USAGE))));
    case "rotate-key": {
      const v = parseFlags(rest, { ...ref, grace: { type: "string" } }, DEVICES_USAGE);
      const graceMs = v.grace === undefined ? DEFAULT_KEY_GRACE_MS : parseDuration(v.grace);
      if (graceMs === undefined) throw new UsageError(`--grace must look like 30s, 15m, 24h or 7d\n${DEVICES_USAGE}`);
      const device = deviceRef(v);
      const { apiKey, prefix } = await rotateDeviceKey(admin, device, graceMs);
      return { ...device, apiKey, prefix, oldKeysExpireAt: new Date(Date.now() + graceMs).toISOString() };
    }
    case "revoke-key": {
      const v = parseFlags(rest, { ...ref, prefix: { type: "string" } }, DEVICES_USAGE);
      const device = deviceRef(v);
      await revokeDeviceKey(admin, device, stringFlag(v.prefix, "prefix", DEVICES_USAGE));
      return printable(await getDevice(ctx.database.db, device));
    }
    case "register-cert":
    case "rotate-cert": {
      const v = parseFlags(rest, { ...ref, cert: { type: "string" }, grace: { type: "string" } }, DEVICES_USAGE);
      const device = deviceRef(v);
      const file = stringFlag(v.cert, "cert", DEVICES_USAGE);
      let pem: string;
      try {
        pem = readFileSync(file, "utf8");
      } catch (err) {
        throw new UsageError(`cannot read --cert ${file}: ${(err as Error).message}`);
      }
      if (action === "register-cert") {
        if (v.grace !== undefined) throw new UsageError(`--grace goes with rotate-cert\n${DEVICES_USAGE}`);
        const info = await registerDeviceCertificate(admin, device, pem);
        return { ...device, fingerprint: info.fingerprint, notAfter: info.notAfter.toISOString() };
      }
      const graceMs = v.grace === undefined ? DEFAULT_KEY_GRACE_MS : parseDuration(v.grace);
      if (graceMs === undefined) throw new UsageError(`--grace must look like 30s, 15m, 24h or 7d\n${DEVICES_USAGE}`);
      const info = await rotateDeviceCertificate(admin, device, pem, graceMs);
      return {
        ...device,
        fingerprint: info.fingerprint,
        notAfter: info.notAfter.toISOString(),
        oldCertificatesExpireAt: new Date(Date.now() + graceMs).toISOString(),
      };
    }
    case "revoke-cert": {
      const v = parseFlags(rest, { ...ref, fingerprint: { type: "string" } }, DEVICES_USAGE);
      const device = deviceRef(v);
      await revokeDeviceCertificate(admin, device, stringFlag(v.fingerprint, "fingerprint", DEVICES_USAGE));
      return printable(await getDevice(ctx.database.db, device));
    }
    case "disable": {
      const device = deviceRef(parseFlags(rest, ref, DEVICES_USAGE));
      await disableDevice(admin, device);
      return printable(await getDevice(ctx.database.db, device));
    }
    default:
      throw new UsageError(`unknown devices command ${action ?? "(none)"}\n${DEVICES_USAGE}`);
  }
}

function printable(d: DeviceView) {
  const { id: _id, ...rest } = d;
  return rest;
}
