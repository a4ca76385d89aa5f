import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { serverOptions } from "./app.ts";
import { receiverEnv } from "./config.ts";

/** The grpc-js sources that read a server's options. */
function grpcServerSources(): string {
  const main = createRequire(import.meta.url).resolve("@grpc/grpc-js");
  return ["server.js", "server-interceptors.js"].map((f) => readFileSync(join(dirname(main), f), "utf8")).join("\n");
}

describe("receiver gRPC server options", () => {
  it("item 14: sets only options the grpc-js server implements, a session memory bound among them", () => {
    const options = serverOptions(receiverEnv.parse({}));
    const sources = grpcServerSources();
    for (const key of Object.keys(options)) {
      // An option grpc-js does not read is silently ignored: it would promise a protection that is not there.
      expect(sources.includes(`'${key}'`), key).toBe(true);
    }
    expect(options["grpc-node.max_session_memory"]).toBe(32);
    expect(options["grpc.max_connection_idle_ms"]).toBe(300_000);
  });
});
