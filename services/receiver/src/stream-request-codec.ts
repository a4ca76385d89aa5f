import { fromBinary } from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { type ColumnarBatch, decodeReadingBatch, type Hello, HelloSchema } from "@vigil/proto";

/** One device message as the stream handler sees it. */
export type DecodedRequest =
  | { kind: "hello"; hello: Hello }
  | {
      kind: "batch";
      batch: ColumnarBatch;
      /** The batch's encoded bytes, published as-is: no re-encoding. */
      bytes: Uint8Array;
    }
  | { kind: "empty" }
  | { kind: "malformed"; reason: string; bytes: Uint8Array };

const HELLO_FIELD = 1;
const BATCH_FIELD = 2;

/**
 * Decodes a vigil.ingest.v1.StreamRequest, keeping the raw bytes of the
 * batch so the receiver publishes exactly what it validated. Never throws:
 * garbage becomes a "malformed" request the handler can reject while the
 * stream stays open.
 */
export function decodeStreamRequest(bytes: Uint8Array): DecodedRequest {
  try {
    let decoded: DecodedRequest = { kind: "empty" };
    const reader = new BinaryReader(bytes);
    while (reader.pos < reader.len) {
      const [field, wireType] = reader.tag();
      if (field === BATCH_FIELD && wireType === WireType.LengthDelimited) {
        const batchBytes = reader.bytes();
        decoded = { kind: "batch", batch: decodeReadingBatch(batchBytes), bytes: batchBytes };
      } else if (field === HELLO_FIELD && wireType === WireType.LengthDelimited) {
        decoded = { kind: "hello", hello: fromBinary(HelloSchema, reader.bytes()) };
      } else {
        reader.skip(wireType, field);
      }
    }
    return decoded;
  } catch (err) {
    return { kind: "malformed", reason: `message is not a valid StreamRequest: ${(err as Error).message}`, bytes };
  }
}
