import type { NatsConnection } from "@nats-io/nats-core";
import { type ControlEvents, memoryControlEvents, natsControlEvents } from "./control-events.ts";

/** A user's access tokens changed: those below `tokenVersion` are no longer valid. */
export interface UserEvent {
  userId: number;
  tokenVersion: number;
}

/** Token-version changes fanned out to every query replica. */
export type UserEvents = ControlEvents<UserEvent>;

export const USER_EVENTS_SUBJECT = "vigil.control.users";

export function natsUserEvents(nc: NatsConnection): UserEvents {
  return natsControlEvents(nc, USER_EVENTS_SUBJECT);
}

export function memoryUserEvents(): UserEvents {
  return memoryControlEvents();
}
