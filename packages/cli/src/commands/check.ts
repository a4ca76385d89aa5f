import { Command } from "@commander-js/extra-typings";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { ReadingService } from "@vigil/client";
import { health, IngestService } from "@vigil/proto";
import type { Cli } from "../cli.ts";
import { httpUrl, integer } from "../flags.ts";
import { CliError } from "../usage-error.ts";

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
    .action(async (o) => {
      const [receiver, query] = await Promise.all([
        checkReceiver(o.receiver, o.timeoutMs),
        checkQuery(o.query, o.timeoutMs),
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

async function checkReceiver(target: string, timeoutMs: number): Promise<CheckResult["receiver"]> {
  const service = IngestService.typeName;
  const transport = createGrpcTransport({ baseUrl: `http://${target}` });
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

async function checkQuery(url: string, timeoutMs: number): Promise<CheckResult["query"]> {
  const ready = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(timeoutMs) }).then(
    (r) => r.ok,
    () => false,
  );
  // Connect-JSON over HTTP/1.1: what a browser or curl sends.
  const transport = createConnectTransport({ baseUrl: url, httpVersion: "1.1", useBinaryFormat: false });
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
