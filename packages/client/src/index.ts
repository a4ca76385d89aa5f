/**
 * `@vigil/client`: typed clients of the Vigil query API (Connect-JSON over
 * `fetch` by default, so the same code runs in browsers and Node.js), the
 * message types and service descriptors generated from Vigil's protos, and a
 * token session that signs in and refreshes access tokens.
 */

export { Code, ConnectError } from "@connectrpc/connect";
export {
  BadRequest_FieldViolationSchema,
  BadRequestSchema,
  RetryInfoSchema,
} from "../../proto/src/gen/google/rpc/error_details_pb.ts";
export * from "../../proto/src/gen/vigil/alerts/v1/alerts_pb.ts";
export * from "../../proto/src/gen/vigil/audit/v1/audit_pb.ts";
export * from "../../proto/src/gen/vigil/auth/v1/auth_pb.ts";
export * from "../../proto/src/gen/vigil/devices/v1/devices_pb.ts";
export * from "../../proto/src/gen/vigil/fleet/v1/fleet_pb.ts";
export * from "../../proto/src/gen/vigil/ingest/v1/dead_letters_pb.ts";
export * from "../../proto/src/gen/vigil/ingest/v1/ingest_pb.ts";
export * from "../../proto/src/gen/vigil/maintenance/v1/maintenance_pb.ts";
export * from "../../proto/src/gen/vigil/procedures/v1/procedures_pb.ts";
export * from "../../proto/src/gen/vigil/readings/v1/readings_pb.ts";
export { type FieldViolation, fieldViolations, retryDelayMs } from "./error-details.ts";
export { memoryStore, TokenSession, type TokenSessionOptions, type TokenStore } from "./token-session.ts";
export { createVigilClient, type VigilClient, type VigilClientOptions } from "./vigil-client.ts";
