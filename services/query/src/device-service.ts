import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { durationMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { DeviceEvent } from "@vigil/bus";
import type { Database, Kysely } from "@vigil/db";
import {
  createDevice,
  DEFAULT_KEY_GRACE_MS,
  DEVICE_CODE_PATTERN,
  type DeviceFields,
  type DeviceStatus,
  type DeviceView,
  deleteDevice,
  deviceNameProblem,
  disableDevice,
  enableDevice,
  getDevice,
  labelsProblem,
  listDevices,
  registerDeviceCertificate,
  revokeDeviceCertificate,
  revokeDeviceKey,
  rotateDeviceCertificate,
  rotateDeviceKey,
  updateDevice,
} from "@vigil/devices";
import {
  type Device,
  DeviceSchema,
  type DeviceService,
  DeviceStatus as DeviceStatusEnum,
  type RateLimit,
} from "@vigil/proto";
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
        rateLimit: rateLimit(rate) ?? undefined,
        manufacturer: req.manufacturer,
        serialNumber: req.serialNumber,
        firmware: req.firmware,
        status: statusOf(req.status, "status"),
      });
      return { device: toDevice(await getDevice(deps.db, req)), apiKey };
    },
    async getDevice(req) {
      return { device: toDevice(await getDevice(deps.db, ref(req))) };
    },
    async listDevices(req) {
      const limit = checkedPageSize(req.pageSize);
      const after = req.pageToken ? decodeCursor(req.pageToken, req, isDeviceCursor) : undefined;
      // A filter can only match labels a device may carry: anything else is bad input.
      const labelProblem = labelsProblem(req.labels);
      if (labelProblem) throw new InvalidArgumentError("labels", labelProblem);
      const devices = await listDevices(deps.db, {
        code: req.code || undefined,
        online: req.online,
        site: req.site || undefined,
        kind: req.kind || undefined,
        labels: req.labels,
        status: statusOf(req.status, "status"),
        showDeleted: req.showDeleted,
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
    async updateDevice(req, ctx) {
      const device = req.device;
      if (!device) throw new InvalidArgumentError("device", "is required");
      const paths = req.updateMask?.paths ?? [];
      if (paths.length === 0) throw new InvalidArgumentError("update_mask", "must name at least one field");
      const changes: DeviceFields = {};
      for (const path of new Set(paths)) {
        if (path === "site") changes.site = device.site;
        else if (path === "labels") changes.labels = device.labels;
        else if (path === "kind") changes.kind = device.kind;
        else if (path === "model") changes.model = device.model;
        else if (path === "manufacturer") changes.manufacturer = device.manufacturer;
        else if (path === "serial_number") changes.serialNumber = device.serialNumber;
        else if (path === "firmware") changes.firmware = device.firmware;
        else if (path === "status") {
          changes.status = statusOf(device.status, "device.status");
          if (!changes.status) throw new InvalidArgumentError("device.status", "must be set when in update_mask");
        } else if (path === "rate_limit") changes.rateLimit = rateLimit(device.rateLimit);
        else {
          throw new InvalidArgumentError(
            "update_mask",
            `cannot update ${JSON.stringify(path)}: site, labels, kind, model, manufacturer, serial_number, firmware, status, rate_limit`,
          );
        }
      }
      await updateDevice(admin(ctx), ref(device), changes);
      return { device: toDevice(await getDevice(deps.db, ref(device))) };
    },
    async enableDevice(req, ctx) {
      await enableDevice(admin(ctx), ref(req));
      return { device: toDevice(await getDevice(deps.db, ref(req))) };
    },
    async deleteDevice(req, ctx) {
      await deleteDevice(admin(ctx), ref(req));
      return { device: toDevice(await getDevice(deps.db, ref(req))) };
    },
    async registerDeviceCertificate(req, ctx) {
      if (!req.certificatePem) throw new InvalidArgumentError("certificate_pem", "is required");
      const { fingerprint } = await registerDeviceCertificate(admin(ctx), ref(req), req.certificatePem);
      const device = toDevice(await getDevice(deps.db, ref(req)));
      return { certificate: device.certificates.find((c) => c.fingerprint === fingerprint), device };
    },
    async rotateDeviceCertificate(req, ctx) {
      if (!req.certificatePem) throw new InvalidArgumentError("certificate_pem", "is required");
      const graceMs = req.gracePeriod ? durationMs(req.gracePeriod) : DEFAULT_KEY_GRACE_MS;
      if (graceMs < 0) throw new InvalidArgumentError("grace_period", "must not be negative");
      const { fingerprint } = await rotateDeviceCertificate(admin(ctx), ref(req), req.certificatePem, graceMs);
      const device = toDevice(await getDevice(deps.db, ref(req)));
      return { certificate: device.certificates.find((c) => c.fingerprint === fingerprint), device };
    },
    async revokeDeviceCertificate(req, ctx) {
      if (!/^[0-9a-fA-F:]{64,95}$/.test(req.fingerprint)) {
        throw new InvalidArgumentError("fingerprint", "must be the certificate's SHA-256 fingerprint (64 hex digits)");
      }
      await revokeDeviceCertificate(admin(ctx), ref(req), req.fingerprint);
      return { device: toDevice(await getDevice(deps.db, ref(req))) };
    },
  };
}

const STATUSES: Record<DeviceStatus, DeviceStatusEnum> = {
  active: DeviceStatusEnum.ACTIVE,
  in_maintenance: DeviceStatusEnum.IN_MAINTENANCE,
  retired: DeviceStatusEnum.RETIRED,
};

/** A status from the wire; undefined when unspecified. */
function statusOf(value: DeviceStatusEnum, field: string): DeviceStatus | undefined {
  if (value === DeviceStatusEnum.UNSPECIFIED) return undefined;
  const found = (Object.keys(STATUSES) as DeviceStatus[]).find((k) => STATUSES[k] === value);
  if (!found) throw new InvalidArgumentError(field, "is not a known status");
  return found;
}

/** A rate limit from the wire; null (the receivers' default) when absent or zero. */
function rateLimit(rate: RateLimit | undefined): { perSecond: number; burst: number } | null {
  return rate && rate.readingsPerSecond > 0
    ? { perSecond: rate.readingsPerSecond, burst: rate.burst || rate.readingsPerSecond }
    : null;
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
    manufacturer: d.manufacturer,
    serialNumber: d.serialNumber,
    firmware: d.firmware,
    status: STATUSES[d.status],
    deleteTime: ts(d.deletedAt),
    rateLimit: d.rateLimit && { readingsPerSecond: d.rateLimit.perSecond, burst: d.rateLimit.burst },
    keys: d.keys.map((k) => ({
      prefix: k.prefix,
      createTime: ts(k.createdAt),
      expireTime: ts(k.expiresAt),
      revokeTime: ts(k.revokedAt),
    })),
    certificates: d.certificates.map((c) => ({
      fingerprint: c.fingerprint,
      subject: c.subject,
      issuer: c.issuer,
      serialNumber: c.serial,
      notBefore: ts(c.notBefore),
      notAfter: ts(c.notAfter),
      createTime: ts(c.createdAt),
      expireTime: ts(c.expiresAt),
      revokeTime: ts(c.revokedAt),
    })),
  };
  return create(DeviceSchema, init);
}
