export { HealthImplementation, type ServingStatus } from "grpc-health-check";
export { addReflection } from "./reflection.ts";
export { type CodecOverride, grpcServiceDefinition } from "./service-definition.ts";
