import {
  DEVICE_STATUSES,
  type DeviceFields,
  type DeviceStatus,
  deleteDevice,
  enableDevice,
  getDevice,
  updateDevice,
} from "@vigil/devices";
import { intFlag, parseFlags, stringFlag } from "../args.ts";
import type { CliContext } from "../cli-context.ts";
import { UsageError } from "../usage-error.ts";

export const FLEET_DEVICES_USAGE = `vigil devices update --code CODE --number N [--site S] [--kind K] [--model M] [--manufacturer M]
                      [--serial-number S] [--firmware F] [--status active|in_maintenance|retired]
                      [--label key=value ...] [--clear-labels] [--rate-per-s R --burst B] [--default-rate]
      changes only the fields given
  vigil devices enable --code CODE --number N      lets a disabled device connect again
  vigil devices delete --code CODE --number N      soft delete: disabled, hidden from listings, data kept`;

const ref = { code: { type: "string" }, number: { type: "string" } } as const;

/** `vigil devices update|enable|delete`: a device's lifecycle, audited like the API. */
export async function fleetDevicesCommand(ctx: CliContext, action: string, rest: string[]): Promise<unknown> {
  const admin = { db: ctx.database.db, actor: ctx.actor, publish: ctx.publish };
  const deviceRef = (v: { code?: string; number?: string }) => ({
    code: stringFlag(v.code, "code", FLEET_DEVICES_USAGE),
    number: intFlag(v.number, "number", FLEET_DEVICES_USAGE),
  });
  switch (action) {
    case "update": {
      const v = parseFlags(
        rest,
        {
          ...ref,
          site: { type: "string" },
          kind: { type: "string" },
          model: { type: "string" },
          manufacturer: { type: "string" },
          "serial-number": { type: "string" },
          firmware: { type: "string" },
          status: { type: "string" },
          label: { type: "string", multiple: true },
          "clear-labels": { type: "boolean" },
          "rate-per-s": { type: "string" },
          burst: { type: "string" },
          "default-rate": { type: "boolean" },
        },
        FLEET_DEVICES_USAGE,
      );
      if (v.status !== undefined && !(DEVICE_STATUSES as readonly string[]).includes(v.status)) {
        throw new UsageError(`--status must be ${DEVICE_STATUSES.join(", ")}\n${FLEET_DEVICES_USAGE}`);
      }
      const changes: DeviceFields = {
        site: v.site,
        kind: v.kind,
        model: v.model,
        manufacturer: v.manufacturer,
        serialNumber: v["serial-number"],
        firmware: v.firmware,
        status: v.status as DeviceStatus | undefined,
      };
      if (v.label || v["clear-labels"]) changes.labels = v["clear-labels"] ? {} : labels(v.label ?? []);
      if (v["default-rate"]) changes.rateLimit = null;
      else if (v["rate-per-s"] !== undefined) {
        changes.rateLimit = {
          perSecond: intFlag(v["rate-per-s"], "rate-per-s", FLEET_DEVICES_USAGE),
          burst: intFlag(v.burst ?? v["rate-per-s"], "burst", FLEET_DEVICES_USAGE),
        };
      }
      const device = deviceRef(v);
      await updateDevice(admin, device, changes);
      return printable(await getDevice(ctx.database.db, device));
    }
    case "enable": {
      const device = deviceRef(parseFlags(rest, ref, FLEET_DEVICES_USAGE));
      await enableDevice(admin, device);
      return printable(await getDevice(ctx.database.db, device));
    }
    case "delete": {
      const device = deviceRef(parseFlags(rest, ref, FLEET_DEVICES_USAGE));
      await deleteDevice(admin, device);
      return printable(await getDevice(ctx.database.db, device));
    }
    default:
      throw new UsageError(`unknown devices command ${action}\n${FLEET_DEVICES_USAGE}`);
  }
}

/** key=value flags as an object. */
export function labels(list: string[]): Record<string, string> {
  return Object.fromEntries(
    list.map((l) => {
      const at = l.indexOf("=");
      if (at < 1) throw new UsageError(`--label must be key=value, got ${JSON.stringify(l)}`);
      return [l.slice(0, at), l.slice(at + 1)];
    }),
  );
}

function printable<T extends { id: number }>(d: T) {
  const { id: _id, ...rest } = d;
  return rest;
}
