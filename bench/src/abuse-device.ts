import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Client, credentials, Metadata } from "@grpc/grpc-js";
import { StreamRequestSchema, type StreamResponse, StreamResponseSchema } from "@vigil/proto";

/**
 * A device stream that sends whatever bytes it is given (a hostile device
 * does not use an encoder) and counts the answers. Used by `bench:abuse`.
 */
export interface HostileStream {
  send(message: Uint8Array): void;
  /** The next answer, or undefined when the stream ended or `timeoutMs` passed. */
  next(timeoutMs: number): Promise<StreamResponse | undefined>;
  /** Resolves when the stream has ended, with its status code. */
  ended: Promise<number>;
  close(): void;
}

const HELLO = toBinary(
  StreamRequestSchema,
  create(StreamRequestSchema, { kind: { case: "hello", value: { client: "bench-abuse" } } }),
);

/** A StreamRequest carrying `batch` (already encoded) as field 2. */
export function batchRequest(batch: Uint8Array): Uint8Array {
  const head = [0x12];
  let n = batch.length;
  while (n >= 128) {
    head.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  head.push(n);
  return Buffer.concat([Uint8Array.from(head), batch]);
}

/** Opens a stream, sends Hello and waits for Welcome (undefined when refused). */
export async function openHostileStream(target: string, apiKey: string): Promise<HostileStream | undefined> {
  const client = new Client(target, credentials.createInsecure(), {
    "grpc.use_local_subchannel_pool": 1,
    "grpc.max_send_message_length": 64 * 1024 * 1024,
  });
  const metadata = new Metadata();
  metadata.set("x-api-key", apiKey);
  const call = client.makeBidiStreamRequest(
    "/vigil.ingest.v1.IngestService/Stream",
    (b: Uint8Array) => Buffer.from(b),
    (b: Buffer) => fromBinary(StreamResponseSchema, b),
    metadata,
  );
  const queue: StreamResponse[] = [];
  const waiters: Array<(r: StreamResponse | undefined) => void> = [];
  let done = false;
  call.on("data", (r: StreamResponse) => {
    const w = waiters.shift();
    if (w) w(r);
    else queue.push(r);
  });
  call.on("error", () => {});
  const ended = new Promise<number>((resolve) =>
    call.on("status", (s: { code: number }) => {
      done = true;
      for (const w of waiters.splice(0)) w(undefined);
      client.close();
      resolve(s.code);
    }),
  );
  const stream: HostileStream = {
    send: (message) => {
      if (!done) call.write(message);
    },
    next(timeoutMs) {
      const queued = queue.shift();
      if (queued || done) return Promise.resolve(queued);
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(take), 1);
          resolve(undefined);
        }, timeoutMs);
        const take = (r: StreamResponse | undefined) => {
          clearTimeout(timer);
          resolve(r);
        };
        waiters.push(take);
      });
    },
    ended,
    close: () => {
      call.cancel();
      client.close();
    },
  };
  stream.send(HELLO);
  const welcome = await stream.next(10_000);
  if (welcome?.kind.case !== "welcome") {
    stream.close();
    return undefined;
  }
  return stream;
}
