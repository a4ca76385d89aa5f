import { type DescMessage, type DescService, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";

/** Replaces the (de)serializer of one message type, for hot paths that keep raw bytes. */
export interface CodecOverride<I = unknown, O = unknown> {
  requestDeserialize?: (bytes: Buffer) => I;
  responseSerialize?: (message: O) => Buffer;
}

/**
 * Builds a grpc-js service definition from a protobuf-es service descriptor,
 * so grpc-js servers and clients share the generated code with Connect and
 * no `.proto` is loaded at run time.
 */
export function grpcServiceDefinition(
  service: DescService,
  overrides: Record<string, CodecOverride> = {},
): ServiceDefinition {
  const definition: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methods) {
    const override = overrides[method.localName] ?? {};
    definition[method.localName] = {
      path: `/${service.typeName}/${method.name}`,
      requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
      responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
      requestSerialize: serializer(method.input),
      requestDeserialize: override.requestDeserialize ?? deserializer(method.input),
      responseSerialize: override.responseSerialize ?? serializer(method.output),
      responseDeserialize: deserializer(method.output),
      originalName: method.localName,
    };
  }
  return definition as ServiceDefinition;
}

function serializer<D extends DescMessage>(desc: D) {
  return (message: unknown) => Buffer.from(toBinary(desc, message as MessageShape<D>));
}

function deserializer<D extends DescMessage>(desc: D) {
  return (bytes: Buffer) => fromBinary(desc, bytes);
}
