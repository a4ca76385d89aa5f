import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Client, credentials, Metadata, type StatusObject } from "@grpc/grpc-js";
import {
  type ColumnarBatch,
  encodeBatchStreamRequest,
  StreamRequestSchema,
  type StreamResponse,
  StreamResponseSchema,
} from "@vigil/proto";
import { type ClientTlsFiles, grpcClientCredentials, grpcClientOptions } from "@vigil/tls";

/** A hand-driven device stream for protocol tests: send anything, read every response. */
export interface RawStream {
  hello(): void;
  batch(batch: ColumnarBatch): void;
  bytes(raw: Uint8Array): void;
  /** The next response, or a rejection when the stream ends first. */
  next(timeoutMs?: number): Promise<StreamResponse>;
  /** Resolves with the final status. */
  status: Promise<StatusObject>;
  end(): void;
  close(): void;
}

export function openRawStream(port: number, apiKey?: string, tls?: ClientTlsFiles): RawStream {
  const client = new Client(`127.0.0.1:${port}`, tls ? grpcClientCredentials(tls) : credentials.createInsecure(), {
    ...(tls ? grpcClientOptions(tls) : {}),
    "grpc.use_local_subchannel_pool": 1,
  });
  const metadata = new Metadata();
  if (apiKey !== undefined) metadata.set("x-api-key", apiKey);
  const call = client.makeBidiStreamRequest(
    "/vigil.ingest.v1.IngestService/Stream",
    (b: Uint8Array) => Buffer.from(b),
    (b: Buffer) => fromBinary(StreamResponseSchema, b),
    metadata,
  );
  const queue: StreamResponse[] = [];
  const waiters: Array<(r: StreamResponse | undefined) => void> = [];
  let ended = false;
  call.on("data", (r: StreamResponse) => {
    const w = waiters.shift();
    if (w) w(r);
    else queue.push(r);
  });
  const status = new Promise<StatusObject>((resolve) => {
    call.on("status", (s: StatusObject) => {
      ended = true;
      for (const w of waiters.splice(0)) w(undefined);
      resolve(s);
      client.close();
    });
  });
  call.on("error", () => {});
  return {
    hello: () =>
      call.write(
        toBinary(
          StreamRequestSchema,
          create(StreamRequestSchema, { kind: { case: "hello", value: { client: "test" } } }),
        ),
      ),
    batch: (b) => call.write(encodeBatchStreamRequest(b)),
    bytes: (raw) => call.write(raw),
    next(timeoutMs = 10_000) {
      const queued = queue.shift();
      if (queued) return Promise.resolve(queued);
      if (ended) return Promise.reject(new Error("stream ended"));
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("no response in time")), timeoutMs);
        waiters.push((r) => {
          clearTimeout(timer);
          if (r) resolve(r);
          else reject(new Error("stream ended"));
        });
      });
    },
    status,
    end: () => call.end(),
    close: () => {
      call.cancel();
      client.close();
    },
  };
}

/** A one-series batch for tests. */
export function testBatch(
  seq: number,
  times: number[],
  values: number[],
  sensor = "motor.temperature_c",
): ColumnarBatch {
  return { seq, series: [{ sensor, times: Float64Array.from(times), values: Float64Array.from(values) }] };
}
