import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { parseArgs } from "node:util";
import { create } from "@bufbuild/protobuf";
import { credentials, makeGenericClientConstructor, type ServiceError } from "@grpc/grpc-js";
import { grpcServiceDefinition } from "@vigil/grpc";
import { health, IngestService, ReadingService } from "@vigil/proto";
import { type ClientTlsFiles, grpcClientCredentials, grpcClientOptions } from "@vigil/tls";
import { UsageError } from "../usage-error.ts";

export const CHECK_USAGE = `vigil check --receiver HOST:PORT --query URL [--tls] [--ca-file FILE] [--timeout-ms MS]
  Checks a running deployment from the outside, as a device and a web client would:
  the receiver's grpc.health.v1 status for IngestService, the query service's /readyz
  and a Connect-JSON ListReadings call (answered, or refused as unauthenticated). Prints the results as JSON; exits 1 when a
  check fails. Needs no DATABASE_URL (helm test runs it). --tls: the receiver speaks TLS
  (an https:// query URL does too); --ca-file: the CA both certificates must chain to
  (default: the system's roots); --server-name: the name to verify instead of the host.`;

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
      tls: { type: "boolean", default: false },
      "ca-file": { type: "string" },
      "server-name": { type: "string" },
    },
    strict: true,
  });
  const timeoutMs = Number(values["timeout-ms"]);
  if (!values.receiver || !values.query) throw new UsageError(`--receiver and --query are required\n${CHECK_USAGE}`);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new UsageError("--timeout-ms must be a positive integer");
  const queryUrl = values.query.replace(/\/+$/, "");
  const caFile = values["ca-file"];
  const serverName = values["server-name"];
  let ca: Buffer | undefined;
  try {
    ca = caFile ? readFileSync(caFile) : undefined;
  } catch (err) {
    throw new UsageError(`cannot read --ca-file: ${(err as Error).message}`);
  }
  const receiverTls: ClientTlsFiles | undefined =
    values.tls || caFile ? { ...(caFile ? { caFile } : {}), ...(serverName ? { serverName } : {}) } : undefined;
  const [receiver, query] = await Promise.all([
    checkReceiver(values.receiver, timeoutMs, receiverTls),
    checkQuery(queryUrl, timeoutMs, { ca, servername: serverName }),
  ]);
  // Without a token the API must answer with its own Unauthenticated error: that proves the
  // Connect stack, routing and the auth interceptor are up, without handing helm test a secret.
  const listing = query.listReadings;
  const answered = listing.httpStatus === 200 || listing.connectCode === "unauthenticated";
  const ok = receiver.status === "SERVING" && query.ready && answered;
  return { ok, receiver, query };
}

async function checkReceiver(
  target: string,
  timeoutMs: number,
  tls: ClientTlsFiles | undefined,
): Promise<CheckResult["receiver"]> {
  const service = IngestService.typeName;
  const Client = makeGenericClientConstructor(grpcServiceDefinition(health.Health), "Health");
  const client = tls
    ? new Client(target, grpcClientCredentials(tls), grpcClientOptions(tls))
    : new Client(target, credentials.createInsecure());
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

async function checkQuery(url: string, timeoutMs: number, tls: TlsOptions): Promise<CheckResult["query"]> {
  const ready = await request(`${url}/readyz`, { method: "GET", timeoutMs, tls }).then(
    (r) => r.status >= 200 && r.status < 300,
    () => false,
  );
  // A Connect unary call is a plain POST with a JSON body: what a browser or curl sends.
  const method = ReadingService.method.listReadings;
  try {
    const res = await request(`${url}/${ReadingService.typeName}/${method.name}`, {
      method: "POST",
      headers: { "content-type": "application/json", "connect-protocol-version": "1" },
      body: JSON.stringify({ pageSize: 1 }),
      timeoutMs,
      tls,
    });
    const body = res.body;
    if (res.status === 200) return { url, ready, listReadings: { httpStatus: res.status } };
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

interface TlsOptions {
  ca?: Buffer;
  servername?: string;
}

/**
 * One HTTP/1.1 request over node:http or node:https (fetch cannot be given a
 * CA file), with the body read up to 64 KiB.
 */
function request(
  url: string,
  options: { method: string; headers?: Record<string, string>; body?: string; timeoutMs: number; tls: TlsOptions },
): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  const secure = u.protocol === "https:";
  const client = secure ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(
      u,
      {
        method: options.method,
        headers: options.headers,
        timeout: options.timeoutMs,
        ...(secure && options.tls.ca ? { ca: options.tls.ca } : {}),
        ...(secure && options.tls.servername ? { servername: options.tls.servername } : {}),
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          if (body.length < 65_536) body += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)));
    req.on("error", reject);
    req.end(options.body);
  });
}
