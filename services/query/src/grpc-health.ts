import type { ServiceImpl } from "@connectrpc/connect";
import { health } from "@vigil/proto";

const { HealthCheckResponse_ServingStatus: Status } = health;

/**
 * grpc.health.v1.Health on the query port, for gRPC clients and Kubernetes
 * gRPC probes: SERVING while the service is ready (the database answers),
 * for the server as a whole ("") and for each service it serves.
 */
export function grpcHealth(services: string[], ready: () => Promise<boolean>): ServiceImpl<typeof health.Health> {
  const known = new Set(["", ...services]);
  const status = async (service: string) => {
    if (!known.has(service)) return Status.SERVICE_UNKNOWN;
    return (await ready()) ? Status.SERVING : Status.NOT_SERVING;
  };
  return {
    async check(req) {
      return { status: await status(req.service) };
    },
    async list() {
      const up = await ready();
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
      let last: health.HealthCheckResponse_ServingStatus | undefined;
      while (!ctx.signal.aborted) {
        const now = await status(req.service);
        if (now !== last) yield { status: now };
        last = now;
        await new Promise((r) => setTimeout(r, 5_000).unref());
      }
    },
  };
}
