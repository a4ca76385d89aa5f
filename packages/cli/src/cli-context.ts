import { userInfo } from "node:os";
import { connectDeviceEvents, connectJetStreamBus, type DeviceEvent, natsTls, type ReadingBus } from "@vigil/bus";
import type { VigilDatabase } from "@vigil/db";

/** What commands share: the database, who is acting, and NATS when a command needs it. */
export interface CliContext {
  database: VigilDatabase;
  /** "cli:<os user>", written to the audit log. */
  actor: string;
  /** Tells receivers about a device change; warns instead of failing when NATS is unreachable. */
  publish(event: DeviceEvent): Promise<void>;
  /** The reading log (for replays); fails when NATS is unreachable. */
  bus(): Promise<ReadingBus>;
  warn(message: string): void;
  close(): Promise<void>;
}

export function createCliContext(
  database: VigilDatabase,
  env: Record<string, string | undefined>,
  warn: (m: string) => void,
): CliContext {
  const natsUrl = env.NATS_URL || "nats://127.0.0.1:4222";
  // NATS_TLS_CA_FILE, NATS_TLS_CERT_FILE, NATS_TLS_KEY_FILE, as the services read them.
  const tls = natsTls(env);
  const closers: Array<() => Promise<void>> = [];
  let openBus: Promise<ReadingBus> | undefined;
  return {
    database,
    actor: `cli:${userInfo().username}`,
    warn,
    async publish(event) {
      try {
        const events = await connectDeviceEvents(natsUrl, "vigil-cli", tls);
        closers.push(events.close);
        await events.publish(event);
      } catch (err) {
        warn(
          `could not tell receivers over NATS (${(err as Error).message}); ` +
            "they apply the change when they next re-check keys (RECEIVER_AUTH_CACHE_MS, default 30 s)",
        );
      }
    },
    bus() {
      openBus ??= connectJetStreamBus({ servers: natsUrl, name: "vigil-cli", publishTimeoutMs: 5_000, tls }).then(
        (bus) => {
          closers.push(() => bus.close());
          return bus;
        },
      );
      return openBus;
    },
    async close() {
      for (const close of closers) await close().catch(() => {});
    },
  };
}
