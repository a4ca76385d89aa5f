import { durationMs } from "@bufbuild/protobuf/wkt";
import { ConnectError } from "@connectrpc/connect";
import { BadRequestSchema, RetryInfoSchema } from "../../proto/src/gen/google/rpc/error_details_pb.ts";

/** A request field the server refused, and why (google.rpc.BadRequest). */
export interface FieldViolation {
  /** Path of the field in proto names, such as "filter.device_code". */
  field: string;
  description: string;
}

/** The fields an InvalidArgument error names, to show next to the inputs; empty for other errors. */
export function fieldViolations(err: unknown): FieldViolation[] {
  return ConnectError.from(err)
    .findDetails(BadRequestSchema)
    .flatMap((b) => b.fieldViolations.map((v) => ({ field: v.field, description: v.description })));
}

/**
 * How long to wait before retrying a refused call (a rate limit): from the
 * error's google.rpc.RetryInfo, else its Retry-After header; undefined when
 * the server gave no hint.
 */
export function retryDelayMs(err: unknown): number | undefined {
  const error = ConnectError.from(err);
  const info = error.findDetails(RetryInfoSchema)[0];
  if (info?.retryDelay) return durationMs(info.retryDelay);
  const header = Number(error.metadata.get("retry-after"));
  return Number.isFinite(header) && header > 0 ? header * 1000 : undefined;
}
