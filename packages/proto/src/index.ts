/**
 * Vigil's wire contract: the protobuf-es schemas generated from `proto/`
 * (regenerate with `npm run generate`; never edit `src/gen` by hand), the
 * columnar codec for reading batches, the google.rpc error details API errors carry, and where the generated OpenAPI
 * document of the Connect-JSON API is.
 */

export { type SampleEncoding, sampleBatchBytes } from "./batch-samples.ts";
export * as errorDetails from "./gen/google/rpc/error_details_pb.ts";
export * as reflection from "./gen/grpc/reflection/v1/reflection_pb.ts";
export * as health from "./gen/health/v1/health_pb.ts";
export * from "./gen/vigil/alerts/v1/alerts_pb.ts";
export * from "./gen/vigil/audit/v1/audit_pb.ts";
export * from "./gen/vigil/auth/v1/auth_pb.ts";
export * from "./gen/vigil/auth/v1/sso_pb.ts";
export * from "./gen/vigil/devices/v1/devices_pb.ts";
export * from "./gen/vigil/fleet/v1/fleet_pb.ts";
export * from "./gen/vigil/ingest/v1/dead_letters_pb.ts";
export * from "./gen/vigil/ingest/v1/ingest_pb.ts";
export * from "./gen/vigil/maintenance/v1/maintenance_pb.ts";
export * from "./gen/vigil/procedures/v1/procedures_pb.ts";
export * from "./gen/vigil/readings/v1/readings_pb.ts";
export * from "./gen/vigil/simulator/v1/simulator_pb.ts";
export { openApiDocumentUrl } from "./openapi.ts";
export {
  type ColumnarBatch,
  type ColumnarSeries,
  DEFAULT_DECODE_LIMITS,
  DecodeError,
  DecodeLimitError,
  type DecodeLimits,
  decodeReadingBatch,
  encodeBatchStreamRequest,
  encodeReadingBatch,
} from "./reading-batch-codec.ts";
