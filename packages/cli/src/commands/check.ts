import { parseArgs } from "node:util";
import { create } from "@bufbuild/protobuf";
import { credentials, makeGenericClientConstructor, type ServiceError } from "@grpc/grpc-js";
import { grpcServiceDefinition } from "@vigil/grpc";
import { health, IngestService, ReadingService } from "@vigil/proto";
import { UsageError } from "../usage-error.ts";

export const CHECK_USAGE = `vigil check --receiver HOST:PORT --query URL [--timeout-ms MS]
  Checks a running deployment from the outside, as a device and a web client would:
  the receiver's grpc.health.v1 status for IngestService, the query service's /readyz
  and a Connect-JSON ListReadings call (answered, or refused as unauthenticated). Prints the results as JSON; exits 1 when a
  check fails. Needs no DATABASE_URL (helm test runs it).`;

export interface CheckResult {
  ok: boolean;
  receiver: { target: string; service: string; status: string; error?: string };
  query: { url: string; ready: boolean; listReadings: { httpStatus: number; connectCode?: string; error?: string } };
}

/** `vigil check …` */
export async function checkCommand(args: string[]): Promise<CheckResult> {
  const { values } = parseArgs({
    args,
    options: {
      receiver: { type: "string" },
      query: { type: "string" },
      "timeout-ms": { type: "string", default: "5000" },
    },
    strict: true,
  });
  const timeoutMs = Number(values["timeout-ms"]);
  if (!values.receiver || !values.query) throw new UsageError(`--receiver and --query are required\n${CHECK_USAGE}`);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new UsageError("--timeout-ms must be a positive integer");
  const queryUrl = values.query.replace(/\/+$/, "");
  const [receiver, query] = await Promise.all([
    checkReceiver(values.receiver, timeoutMs),
    checkQuery(queryUrl, timeoutMs),
  ]);
  // Without a token the API must answer with its own Unauthenticated error: that proves the
  // Connect stack, routing and the auth interceptor are up, without handing helm test a secret.
  const listing = query.listReadings;
  const answered = listing.httpStatus === 200 || listing.connectCode === "unauthenticated";
  const ok = receiver.status === "SERVING" && query.ready && answered;
  return { ok, receiver, query };
}

async function checkReceiver(target: string, timeoutMs: number): Promise<CheckResult["receiver"]> {
  const service = IngestService.typeName;
  const Client = makeGenericClientConstructor(grpcServiceDefinition(health.Health), "Health");
  const client = new Client(target, credentials.createInsecure());
  const check = client.check as (
    request: health.HealthCheckRequest,
    options: { deadline: number },
    callback: (err: ServiceError | null, response?: health.HealthCheckResponse) => void,
  ) => void;
  try {
    const response = await new Promise<health.HealthCheckResponse>((resolve, reject) =>
      check.call(
        client,
        create(health.HealthCheckRequestSchema, { service }),
        { deadline: Date.now() + timeoutMs },
        (err, res) => (err || !res ? reject(err ?? new Error("no response")) : resolve(res)),
      ),
    );
    const status =
      Object.entries(health.HealthCheckResponse_ServingStatus).find(([, v]) => v === response.status)?.[0] ??
      String(response.status);
    return { target, service, status };
  } catch (err) {
    return { target, service, status: "UNREACHABLE", error: (err as Error).message };
  } finally {
    client.close();
  }
}

async function checkQuery(url: string, timeoutMs: number): Promise<CheckResult["query"]> {
  const signal = () => AbortSignal.timeout(timeoutMs);
  const ready = await fetch(`${url}/readyz`, { signal: signal() }).then(
    (r) => r.ok,
    () => false,
  );
  // A Connect unary call is a plain POST with a JSON body: what a browser or curl sends.
  const method = ReadingService.method.listReadings;
  try {
    const res = await fetch(`${url}/${ReadingService.typeName}/${method.name}`, {
      method: "POST",
      headers: { "content-type": "application/json", "connect-protocol-version": "1" },
      body: JSON.stringify({ pageSize: 1 }),
      signal: signal(),
    });
    const body = await res.text();
    if (res.ok) return { url, ready, listReadings: { httpStatus: res.status } };
    let connectCode: string | undefined;
    try {
      connectCode = (JSON.parse(body) as { code?: string }).code;
    } catch {
      // not a Connect error: reported as is
    }
    // Refused for want of a token is the expected answer: no error to report.
    if (connectCode === "unauthenticated") return { url, ready, listReadings: { httpStatus: res.status, connectCode } };
    return { url, ready, listReadings: { httpStatus: res.status, connectCode, error: body.slice(0, 500) } };
  } catch (err) {
    return { url, ready, listReadings: { httpStatus: 0, error: (err as Error).message } };
  }
}
