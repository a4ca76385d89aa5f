import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { durationMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { DeviceEvent } from "@vigil/bus";
import type { Database, Kysely } from "@vigil/db";
import {
  createDevice,
  DEFAULT_KEY_GRACE_MS,
  DEVICE_CODE_PATTERN,
  type DeviceView,
  deviceNameProblem,
  disableDevice,
  getDevice,
  listDevices,
  revokeDeviceKey,
  rotateDeviceKey,
} from "@vigil/devices";
import { type Device, DeviceSchema, type DeviceService } from "@vigil/proto";
import { InvalidArgumentError } from "./errors.ts";
import { checkedPageSize, decodeCursor, encodeCursor, hasIntegers } from "./paging.ts";

export interface DeviceServiceDeps {
  db: Kysely<Database>;
  publish: (event: DeviceEvent) => Promise<void>;
  /** The caller, for the audit log. */
  actor: (ctx: HandlerContext) => string;
}

/** vigil.devices.v1.DeviceService: device registry and keys, audited. */
export function deviceService(deps: DeviceServiceDeps): ServiceImpl<typeof DeviceService> {
  const admin = (ctx: HandlerContext) => ({ db: deps.db, actor: deps.actor(ctx), publish: deps.publish });
  return {
    async createDevice(req, ctx) {
      const rate = req.rateLimit;
      const { apiKey } = await createDevice(admin(ctx), {
        code: req.code,
        number: req.number,
        kind: req.kind,
        model: req.model,
        site: req.site,
        labels: req.labels,
        rateLimit:
          rate && rate.readingsPerSecond > 0
            ? { perSecond: rate.readingsPerSecond, burst: rate.burst || rate.readingsPerSecond }
            : undefined,
      });
      return { device: toDevice(await getDevice(deps.db, req)), apiKey };
    },
    async getDevice(req) {
      return { device: toDevice(await getDevice(deps.db, ref(req))) };
    },
    async listDevices(req) {
      const limit = checkedPageSize(req.pageSize);
      const after = req.pageToken ? decodeCursor(req.pageToken, req, isDeviceCursor) : undefined;
      const devices = await listDevices(deps.db, {
        code: req.code || undefined,
        online: req.online,
        limit: limit + 1,
        after,
      });
      const more = devices.length > limit;
      const page = devices.slice(0, limit);
      const last = page.at(-1);
      return {
        devices: page.map(toDevice),
        nextPageToken: more && last ? encodeCursor({ code: last.code, number: last.number }, req) : "",
      };
    },
    async rotateDeviceKey(req, ctx) {
      const graceMs = req.gracePeriod ? durationMs(req.gracePeriod) : DEFAULT_KEY_GRACE_MS;
      if (graceMs < 0) throw new InvalidArgumentError("grace_period", "must not be negative");
      const { apiKey, prefix } = await rotateDeviceKey(admin(ctx), ref(req), graceMs);
      const device = await getDevice(deps.db, ref(req));
      return {
        apiKey,
        key: toDevice(device).keys.find((k) => k.prefix === prefix),
        device: toDevice(device),
      };
    },
    async revokeDeviceKey(req, ctx) {
      if (!req.prefix) throw new InvalidArgumentError("prefix", "is required");
      await revokeDeviceKey(admin(ctx), ref(req), req.prefix);
      return { device: toDevice(await getDevice(deps.db, ref(req))) };
    },
    async disableDevice(req, ctx) {
      await disableDevice(admin(ctx), ref(req));
      return { device: toDevice(await getDevice(deps.db, ref(req))) };
    },
  };
}

function isDeviceCursor(c: unknown): c is { code: string; number: number } {
  return hasIntegers(c, "number") && typeof (c as { code?: unknown }).code === "string";
}

function ref(req: { code: string; number: number }) {
  if (!req.code) throw new InvalidArgumentError("code", "is required");
  if (!req.number) throw new InvalidArgumentError("number", "is required");
  const problem = deviceNameProblem(req.code, req.number);
  if (problem) throw new InvalidArgumentError(DEVICE_CODE_PATTERN.test(req.code) ? "number" : "code", problem);
  return { code: req.code, number: req.number };
}

const ts = (d: Date | null) => (d ? timestampFromMs(d.getTime()) : undefined);

function toDevice(d: DeviceView): Device {
  const init: MessageInitShape<typeof DeviceSchema> = {
    code: d.code,
    number: d.number,
    kind: d.kind,
    model: d.model,
    site: d.site,
    labels: d.labels,
    createTime: ts(d.createdAt),
    disableTime: ts(d.disabledAt),
    lastSeenTime: ts(d.lastSeenAt),
    online: d.online,
    lastStoredSeq: BigInt(d.lastStoredSeq),
    rateLimit: d.rateLimit && { readingsPerSecond: d.rateLimit.perSecond, burst: d.rateLimit.burst },
    keys: d.keys.map((k) => ({
      prefix: k.prefix,
      createTime: ts(k.createdAt),
      expireTime: ts(k.expiresAt),
      revokeTime: ts(k.revokedAt),
    })),
  };
  return create(DeviceSchema, init);
}
