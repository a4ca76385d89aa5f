/**
 * The images' HEALTHCHECK (Docker and Compose; Kubernetes uses the chart's
 * probes instead). `grpc`: the receiver's grpc.health.v1 overall status on
 * RECEIVER_PORT; `http <PORT_VARIABLE> <default>`: GET /healthz on the port
 * that variable names (QUERY_OPS_PORT, WRITER_OPS_PORT, MAINTAINER_OPS_PORT).
 * Exits 0 when healthy, 1 otherwise. Raw protobuf bytes keep it to grpc-js alone,
 * imported only for `grpc`: the query image does not have it.
 */

const TIMEOUT_MS = 3_000;
const [kind, portVariable, defaultPort] = process.argv.slice(2);

async function grpcHealthy(port: string): Promise<boolean> {
  const { credentials, makeGenericClientConstructor } = await import("@grpc/grpc-js");
  const identity = (b: Buffer) => b;
  const Client = makeGenericClientConstructor(
    {
      check: {
        path: "/grpc.health.v1.Health/Check",
        requestStream: false,
        responseStream: false,
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
      },
    },
    "Health",
  );
  const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
  try {
    // An empty HealthCheckRequest asks for the server's overall status; SERVING is field 1 = 1.
    const reply = await new Promise<Buffer>((resolve, reject) =>
      (client.check as (...a: unknown[]) => void)(
        Buffer.alloc(0),
        { deadline: Date.now() + TIMEOUT_MS },
        (err: Error | null, res: Buffer) => (err ? reject(err) : resolve(res)),
      ),
    );
    return reply.equals(Buffer.from([0x08, 0x01]));
  } finally {
    client.close();
  }
}

async function httpHealthy(port: string): Promise<boolean> {
  const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  return res.ok;
}

const { RECEIVER_PORT } = process.env;
const checks: Record<string, (() => Promise<boolean>) | undefined> = {
  grpc: () => grpcHealthy(RECEIVER_PORT || "50051"),
  http: portVariable && defaultPort ? () => httpHealthy(process.env[portVariable] || defaultPort) : undefined,
};

const check = kind ? checks[kind] : undefined;
if (!check) {
  process.stderr.write("usage: healthcheck.ts grpc | healthcheck.ts http <PORT_VARIABLE> <default port>\n");
  process.exit(2);
}
const healthy = await check().catch((err: Error) => {
  process.stderr.write(`unhealthy: ${err.message}\n`);
  return false;
});
process.exit(healthy ? 0 : 1);
