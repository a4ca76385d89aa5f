import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { Command } from "@commander-js/extra-typings";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { ReadingService } from "@vigil/client";
import { health, IngestService } from "@vigil/proto";
import type { Cli } from "../cli.ts";
import { httpUrl, integer } from "../flags.ts";
import { CliError, UsageError } from "../usage-error.ts";

export interface CheckResult {
  ok: boolean;
  receiver: { target: string; service: string; status: string; error?: string };
  /** listReadings.code: the Connect code of an anonymous ListReadings ("unauthenticated" is the healthy answer). */
  query: { url: string; ready: boolean; listReadings: { code: string; error?: string } };
}

/** `vigil check`: a deployment's health from the outside, as a device and a web client see it. */
export function checkCommand(cli: Cli) {
  return new Command("check")
    .summary("check a running deployment from the outside (no sign-in needed)")
    .description(
      "check a running deployment from the outside, as a device and a web client would: the receiver's grpc.health.v1 status for IngestService, the query service's /readyz and an anonymous Connect-JSON ListReadings (refused as unauthenticated: routing and auth are up). Exits 1 when a check fails. Needs no sign-in and no database (helm test runs it).",
    )
    .requiredOption("--receiver <host:port>", "the receiver's gRPC address")
    .requiredOption("--query <url>", "the query service's URL", httpUrl)
    .option("--timeout-ms <ms>", "per check", integer(1, 600_000), 5000)
    .option("--tls", "the receiver speaks TLS (an https:// query URL does too)")
    .option("--ca-file <file>", "the CA both certificates must chain to (default: the system's roots); implies --tls")
    .option("--server-name <name>", "the name to verify in both certificates instead of the host dialled")
    .action(async (o) => {
      let ca: Buffer | undefined;
      try {
        ca = o.caFile ? readFileSync(o.caFile) : undefined;
      } catch (err) {
        throw new UsageError(`cannot read --ca-file: ${(err as Error).message}`);
      }
      const tls: CheckTls = {
        receiver: o.tls === true || ca !== undefined,
        ...(ca ? { ca } : {}),
        ...(o.serverName ? { servername: o.serverName } : {}),
      };
      const [receiver, query] = await Promise.all([
        checkReceiver(o.receiver, o.timeoutMs, tls),
        checkQuery(o.query, o.timeoutMs, tls),
      ]);
      const answered = query.listReadings.code === "ok" || query.listReadings.code === "unauthenticated";
      const result: CheckResult = { ok: receiver.status === "SERVING" && query.ready && answered, receiver, query };
      cli.output.object(result as unknown as Record<string, unknown>);
      if (!result.ok) {
        const failed = [
          receiver.status !== "SERVING" && `receiver ${receiver.status}`,
          !query.ready && "query not ready",
          !answered && `ListReadings ${query.listReadings.code}`,
        ].filter(Boolean);
        throw new CliError(`check failed: ${failed.join(", ")}`);
      }
    });
}

/** TLS for the checks: the receiver over TLS or not, the CA and the name to verify (both ports). */
interface CheckTls {
  receiver: boolean;
  ca?: Buffer;
  servername?: string;
}

async function checkReceiver(target: string, timeoutMs: number, tls: CheckTls): Promise<CheckResult["receiver"]> {
  const service = IngestService.typeName;
  const transport = createGrpcTransport({
    baseUrl: `${tls.receiver ? "https" : "http"}://${target}`,
    nodeOptions: { ...(tls.ca ? { ca: tls.ca } : {}), ...(tls.servername ? { servername: tls.servername } : {}) },
  });
  try {
    const response = await createClient(health.Health, transport).check({ service }, { timeoutMs });
    const status =
      Object.entries(health.HealthCheckResponse_ServingStatus).find(([, v]) => v === response.status)?.[0] ??
      String(response.status);
    return { target, service, status };
  } catch (err) {
    return { target, service, status: "UNREACHABLE", error: ConnectError.from(err).message };
  }
}

async function checkQuery(url: string, timeoutMs: number, tls: CheckTls): Promise<CheckResult["query"]> {
  const nodeOptions = { ...(tls.ca ? { ca: tls.ca } : {}), ...(tls.servername ? { servername: tls.servername } : {}) };
  const ready = await getStatus(`${url}/readyz`, timeoutMs, nodeOptions).then(
    (status) => status >= 200 && status < 300,
    () => false,
  );
  // Connect-JSON over HTTP/1.1: what a browser or curl sends.
  const transport = createConnectTransport({ baseUrl: url, httpVersion: "1.1", useBinaryFormat: false, nodeOptions });
  try {
    await createClient(ReadingService, transport).listReadings({ pageSize: 1 }, { timeoutMs });
    return { url, ready, listReadings: { code: "ok" } };
  } catch (err) {
    const error = ConnectError.from(err);
    // Refused for want of a token is the expected answer: no error to report.
    if (error.code === Code.Unauthenticated) return { url, ready, listReadings: { code: "unauthenticated" } };
    return { url, ready, listReadings: { code: codeToString(error.code), error: error.message } };
  }
}

/** GET's status over node:http or node:https (fetch cannot be given a CA file). */
function getStatus(url: string, timeoutMs: number, tls: { ca?: Buffer; servername?: string }): Promise<number> {
  const secure = url.startsWith("https:");
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).get(url, { timeout: timeoutMs, ...(secure ? tls : {}) }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
  });
}
