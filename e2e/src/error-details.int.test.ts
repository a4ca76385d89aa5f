import { fromBinary } from "@bufbuild/protobuf";
import { durationMs } from "@bufbuild/protobuf/wkt";
import { ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createVigilClient, fieldViolations, retryDelayMs } from "@vigil/client";
import { errorDetails, ReadingService } from "@vigil/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_PASSWORD, type Pipeline } from "./pipeline.ts";
import { startTestPipeline } from "./test-pipeline.ts";

/** Connect-JSON with plain fetch, as a browser on another origin sends it. */
async function post(pipeline: Pipeline, method: string, body: unknown, token: string) {
  const res = await fetch(`${pipeline.queryUrl}/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}`, origin: "https://app.example" },
    body: JSON.stringify(body),
  });
  return {
    status: res.status,
    headers: res.headers,
    body: (await res.json()) as { code?: string; details?: Array<{ type: string; value: string }> },
  };
}

describe("google.rpc error details", () => {
  let pipeline: Pipeline;

  beforeAll(async () => {
    // 60 requests a minute, 6 at once: a burst of calls reaches the limit quickly.
    pipeline = await startTestPipeline({
      env: { QUERY_USER_REQUESTS_PER_MIN: "60", QUERY_CORS_ORIGINS: "https://app.example" },
    });
  });
  afterAll(() => pipeline?.stop());

  it("names the refused field in a google.rpc.BadRequest, over Connect-JSON and gRPC", async () => {
    const refused = await post(
      pipeline,
      "vigil.readings.v1.ReadingService/ListReadings",
      { filter: { deviceCode: "lower" } },
      await pipeline.adminToken(),
    );
    expect(refused).toMatchObject({ status: 400, body: { code: "invalid_argument" } });
    const detail = refused.body.details?.find((d) => d.type === "google.rpc.BadRequest");
    const badRequest = fromBinary(errorDetails.BadRequestSchema, Buffer.from(detail!.value, "base64"));
    expect(badRequest.fieldViolations).toEqual([
      expect.objectContaining({ field: "filter.device_code", description: "must be 1 to 16 capital letters" }),
    ]);

    // gRPC carries the same detail in grpc-status-details-bin.
    const token = await pipeline.adminToken();
    const grpc = createClient(
      ReadingService,
      createGrpcTransport({
        baseUrl: pipeline.queryUrl,
        interceptors: [
          (next) => (req) => {
            req.header.set("authorization", `Bearer ${token}`);
            return next(req);
          },
        ],
      }),
    );
    const err = await grpc
      .listReadings({ filter: { startTime: { seconds: 10n }, endTime: { seconds: 5n } } })
      .catch((e) => ConnectError.from(e));
    expect(fieldViolations(err)).toEqual([{ field: "filter.start_time", description: "must not be after end_time" }]);
  });

  it("says when to retry a rate-limited call: RetryInfo, and a Retry-After header browsers may read", async () => {
    const token = await pipeline.userToken("hasty");
    let limited: Awaited<ReturnType<typeof post>> | undefined;
    for (let i = 0; i < 30 && !limited; i++) {
      const r = await post(pipeline, "vigil.readings.v1.ReadingService/ListReadings", { pageSize: 1 }, token);
      if (r.status === 429) limited = r;
    }
    expect(limited?.body.code).toBe("resource_exhausted");
    const seconds = Number(limited!.headers.get("retry-after"));
    expect(seconds).toBeGreaterThan(0);
    // CORS lets a page on another origin read the header (fetch hides unexposed headers).
    expect(limited!.headers.get("access-control-expose-headers")?.toLowerCase().split(/,\s*/)).toContain("retry-after");
    const detail = limited!.body.details?.find((d) => d.type === "google.rpc.RetryInfo");
    const retry = fromBinary(errorDetails.RetryInfoSchema, Buffer.from(detail!.value, "base64"));
    expect(durationMs(retry.retryDelay!)).toBe(seconds * 1000);

    // @vigil/client reads it for callers.
    const vigil = createVigilClient({ baseUrl: pipeline.queryUrl });
    await vigil.login("admin", ADMIN_PASSWORD);
    let delay: number | undefined;
    for (let i = 0; i < 30 && delay === undefined; i++) {
      delay = await vigil.readings.listReadings({ pageSize: 1 }).then(
        () => undefined,
        (e) => retryDelayMs(e),
      );
    }
    expect(delay).toBeGreaterThan(0);
  });
});
