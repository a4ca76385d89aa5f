import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { health } from "@vigil/proto";
import { clientAddressKey } from "./auth/principal.ts";
import type { ConcurrencyLimit } from "./concurrency-limit.ts";

const { HealthCheckResponse_ServingStatus: Status } = health;

/**
 * grpc.health.v1.Health on the query port, for gRPC clients and Kubernetes
 * gRPC probes: SERVING while the service is ready (the database answers),
 * for the server as a whole ("") and for each service it serves. Watch is
 * anonymous and long-lived, so it is capped per client address and in all
 * (`watches`). `readyNow` is shared by every anonymous caller (sharedReadiness),
 * so no number of them turns into database round trips.
 */
export function grpcHealth(
  services: string[],
  readyNow: () => Promise<boolean>,
  watches: ConcurrencyLimit,
): ServiceImpl<typeof health.Health> {
  const known = new Set(["", ...services]);
  const status = async (service: string) => {
    if (!known.has(service)) return Status.SERVICE_UNKNOWN;
    return (await readyNow()) ? Status.SERVING : Status.NOT_SERVING;
  };
  return {
    async check(req) {
      return { status: await status(req.service) };
    },
    async list() {
      const up = await readyNow();
      const statuses: Record<string, health.HealthCheckResponse> = {};
      for (const name of known) {
        statuses[name] = {
          $typeName: "grpc.health.v1.HealthCheckResponse",
          status: up ? Status.SERVING : Status.NOT_SERVING,
        };
      }
      return { statuses };
    },
    async *watch(req, ctx) {
      const release = watches.acquire(ctx.values.get(clientAddressKey));
      if (!release) {
        throw new ConnectError(
          `at most ${watches.perKey} health watches per client address (${watches.total} in all) at once`,
          Code.ResourceExhausted,
        );
      }
      try {
        let last: health.HealthCheckResponse_ServingStatus | undefined;
        while (!ctx.signal.aborted) {
          const now = await status(req.service);
          if (now !== last) yield { status: now };
          last = now;
          await new Promise((r) => setTimeout(r, WATCH_POLL_MS).unref());
        }
      } finally {
        release();
      }
    },
  };
}

const WATCH_POLL_MS = 5_000;
