import { fromBinary } from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import {
  type ColumnarBatch,
  DEFAULT_DECODE_LIMITS,
  DecodeLimitError,
  type DecodeLimits,
  decodeReadingBatch,
  type Hello,
  HelloSchema,
  RejectCode,
} from "@vigil/proto";

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
  | { kind: "malformed"; reason: string; bytes: Uint8Array }
  /** A well-formed batch over a limit, refused while decoding (nothing was built for it). */
  | { kind: "over_limit"; seq: number; code: RejectCode; reason: string; bytes: Uint8Array };

const HELLO_FIELD = 1;
const BATCH_FIELD = 2;

/**
 * Decodes a vigil.ingest.v1.StreamRequest, keeping the raw bytes of the
 * batch so the receiver publishes exactly what it validated. Never throws:
 * garbage becomes a "malformed" request the handler can reject while the
 * stream stays open, a batch past `limits` an "over_limit" one.
 */
export function decodeStreamRequest(bytes: Uint8Array, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): DecodedRequest {
  try {
    let decoded: DecodedRequest = { kind: "empty" };
    const reader = new BinaryReader(bytes);
    while (reader.pos < reader.len) {
      const [field, wireType] = reader.tag();
      if (field === BATCH_FIELD && wireType === WireType.LengthDelimited) {
        const batchBytes = reader.bytes();
        try {
          decoded = { kind: "batch", batch: decodeReadingBatch(batchBytes, limits), bytes: batchBytes };
        } catch (err) {
          if (!(err instanceof DecodeLimitError)) throw err;
          return {
            kind: "over_limit",
            seq: err.seq,
            code: err.limit === "series" ? RejectCode.TOO_MANY_SERIES : RejectCode.TOO_LARGE,
            reason: err.message,
            bytes: batchBytes,
          };
        }
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
