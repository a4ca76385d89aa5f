import type { NatsConnection } from "@nats-io/nats-core";

/**
 * A fan-out of small control events (JSON) to every replica that listens:
 * NATS core pub/sub, so a replica that is down or disconnected misses them
 * and must catch up on its own schedule (a cache TTL, a periodic re-check).
 */
export interface ControlEvents<T> {
  /** Resolves once the NATS server has the event. */
  publish(event: T): Promise<void>;
  subscribe(handler: (event: T) => void): { stop(): void };
}

/** Control events on `subject` over an open NATS connection. */
export function natsControlEvents<T>(nc: NatsConnection, subject: string): ControlEvents<T> {
  return {
    async publish(event) {
      nc.publish(subject, JSON.stringify(event));
      // Make sure the server has it before the caller reports success.
      await nc.flush();
    },
    subscribe(handler) {
      const sub = nc.subscribe(subject, {
        callback: (err, msg) => {
          if (err) return;
          try {
            handler(msg.json<T>());
          } catch {
            // A malformed event is not worth crashing a replica for.
          }
        },
      });
      return { stop: () => sub.unsubscribe() };
    },
  };
}

/** Control events inside one process (quick start, tests). */
export function memoryControlEvents<T>(): ControlEvents<T> {
  const handlers = new Set<(event: T) => void>();
  return {
    async publish(event) {
      for (const h of handlers) h(event);
    },
    subscribe(handler) {
      handlers.add(handler);
      return { stop: () => handlers.delete(handler) };
    },
  };
}
