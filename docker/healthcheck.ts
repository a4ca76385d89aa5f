/**
 * The images' HEALTHCHECK (Docker and Compose; Kubernetes uses the chart's
 * probes instead). `grpc`: the receiver's grpc.health.v1 overall status on
 * RECEIVER_PORT; `http <PORT_VARIABLE> <default>`: GET /healthz on the port
 * that variable names (QUERY_OPS_PORT, WRITER_OPS_PORT, LIFECYCLE_OPS_PORT).
 * Exits 0 when healthy, 1 otherwise. With TLS_CERT_FILE set the ports speak
 * TLS: the check connects over TLS without verifying the certificate (it
 * asks this container's own process over loopback; liveness, not identity).
 * Node's own http2/https only, so every image can run it.
 */
import http from "node:http";
import http2 from "node:http2";
import https from "node:https";

const TIMEOUT_MS = 3_000;
const [kind, portVariable, defaultPort] = process.argv.slice(2);
const { TLS_CERT_FILE } = process.env;
const secure = Boolean(TLS_CERT_FILE);

async function grpcHealthy(port: string): Promise<boolean> {
  const session = http2.connect(`${secure ? "https" : "http"}://127.0.0.1:${port}`, { rejectUnauthorized: false });
  try {
    return await new Promise<boolean>((resolve, reject) => {
      session.on("error", reject);
      const timer = setTimeout(() => reject(new Error(`no answer within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
      const req = session.request({
        ":method": "POST",
        ":path": "/grpc.health.v1.Health/Check",
        "content-type": "application/grpc",
        te: "trailers",
      });
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("error", reject);
      req.on("end", () => {
        clearTimeout(timer);
        // One gRPC frame: 1 flag byte, 4 length bytes, then HealthCheckResponse; SERVING is field 1 = 1.
        const body = Buffer.concat(chunks);
        resolve(body.subarray(5).equals(Buffer.from([0x08, 0x01])));
      });
      // An empty HealthCheckRequest (the server's overall status), framed: uncompressed, length 0.
      req.end(Buffer.alloc(5));
    });
  } finally {
    session.close();
  }
}

function httpHealthy(port: string): Promise<boolean> {
  const client = secure ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.get(
      `${secure ? "https" : "http"}://127.0.0.1:${port}/healthz`,
      { timeout: TIMEOUT_MS, rejectUnauthorized: false },
      (res) => {
        res.resume();
        resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
    req.on("error", reject);
  });
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
