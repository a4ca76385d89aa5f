import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort, repoRoot } from "@vigil/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Pipeline } from "./pipeline.ts";
import { startTestPipeline } from "./test-pipeline.ts";

const run = (args: string[], env: Record<string, string> = {}) =>
  promisify(execFile)(process.execPath, args, { cwd: repoRoot, env: { ...process.env, ...env } }).then(
    (r) => ({ code: 0, stdout: r.stdout }),
    (err: { code: number; stdout: string }) => ({ code: err.code, stdout: err.stdout }),
  );

/** What `helm test` and the images' HEALTHCHECK run, against real servers. */
describe("deployment checks", () => {
  let pipeline: Pipeline;

  beforeAll(async () => {
    pipeline = await startTestPipeline();
  });
  afterAll(() => pipeline?.stop());

  const cli = join(repoRoot, "packages/cli/src/main.ts");

  it("vigil check passes against a running receiver and query service", async () => {
    const { code, stdout } = await run([
      cli,
      "check",
      "--receiver",
      `127.0.0.1:${pipeline.receiver.port}`,
      "--query",
      `http://127.0.0.1:${pipeline.query.port}/`,
    ]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({
      ok: true,
      receiver: expect.objectContaining({ status: "SERVING", service: "vigil.ingest.v1.IngestService" }),
      // No token: the API's own Unauthenticated answer proves Connect, routing and auth are up.
      query: expect.objectContaining({
        ready: true,
        listReadings: { code: "unauthenticated" },
      }),
    });
  });

  it("vigil check fails, naming what is down, when the receiver is unreachable", async () => {
    const { code, stdout } = await run([
      cli,
      "check",
      "--receiver",
      `127.0.0.1:${await freePort()}`,
      "--query",
      `http://127.0.0.1:${pipeline.query.port}`,
      "--timeout-ms",
      "1000",
    ]);
    expect(code).toBe(1);
    const result = JSON.parse(stdout);
    expect(result.ok).toBe(false);
    expect(result.receiver.status).toBe("UNREACHABLE");
    expect(result.query.listReadings).toEqual({ code: "unauthenticated" });
  });

  it("the image healthcheck reports the services healthy, and a closed port not", async () => {
    const script = join(repoRoot, "docker/healthcheck.ts");
    expect((await run([script, "grpc"], { RECEIVER_PORT: String(pipeline.receiver.port) })).code).toBe(0);
    const query = [script, "http", "QUERY_PORT", "8080"];
    expect((await run(query, { QUERY_PORT: String(pipeline.query.port) })).code).toBe(0);
    const writer = [script, "http", "WRITER_OPS_PORT", "9102"];
    expect((await run(writer, { WRITER_OPS_PORT: String(pipeline.writer.opsPort) })).code).toBe(0);
    const closed = String(await freePort());
    expect((await run([script, "grpc"], { RECEIVER_PORT: closed })).code).toBe(1);
    expect((await run(query, { QUERY_PORT: closed })).code).toBe(1);
    expect((await run(writer, { WRITER_OPS_PORT: closed })).code).toBe(1);
  });
});
