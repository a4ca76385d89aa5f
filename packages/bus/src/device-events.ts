import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import type { NatsTls } from "./bus-config.ts";
import { type ControlEvents, memoryControlEvents, natsControlEvents } from "./control-events.ts";

/** A change to a device that every receiver must act on at once. */
export interface DeviceEvent {
  deviceId: number;
  /**
   * key_revoked: one key (keyPrefix) stops; certificate_revoked: one client certificate
   * (fingerprint) stops; disabled: every credential stops; changed: settings such as rate limits.
   */
  kind: "key_revoked" | "certificate_revoked" | "disabled" | "changed";
  keyPrefix?: string;
  fingerprint?: string;
}

/**
 * Fan-out of device events to every receiver replica (replicas that are
 * down miss them, and re-verify open streams on their own schedule instead).
 */
export type DeviceEvents = ControlEvents<DeviceEvent>;

export const DEVICE_EVENTS_SUBJECT = "vigil.control.devices";

/** Device events over an open NATS connection. */
export function natsDeviceEvents(nc: NatsConnection): DeviceEvents {
  return natsControlEvents(nc, DEVICE_EVENTS_SUBJECT);
}

/** Device events inside one process (quick start, tests). */
export function memoryDeviceEvents(): DeviceEvents {
  return memoryControlEvents();
}

/** Connects to NATS only to publish device events (operator CLI). */
export async function connectDeviceEvents(
  servers: string,
  name: string,
  tls?: NatsTls,
): Promise<DeviceEvents & { close(): Promise<void> }> {
  const nc = await connect({
    servers: servers.split(",").map((s) => s.trim()),
    name,
    timeout: 3_000,
    ...(tls ? { tls } : {}),
  });
  return { ...natsDeviceEvents(nc), close: () => nc.drain() };
}
