import { type DescFile, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { Server } from "@grpc/grpc-js";
import type { PackageDefinition } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { health } from "@vigil/proto";

/**
 * Adds gRPC server reflection for the given generated files (and the health
 * service), so `grpcurl` and `buf curl` work without proto files.
 */
export function addReflection(server: Server, files: DescFile[]): void {
  const all = [...files, health.file_health_v1_health];
  const definition: PackageDefinition = {};
  const fileDescriptorProtos = collect(all).map((f) => Buffer.from(toBinary(FileDescriptorProtoSchema, f.proto)));
  for (const file of all) {
    for (const service of file.services) {
      definition[service.typeName] = { fileDescriptorProtos } as unknown as PackageDefinition[string];
    }
  }
  new ReflectionService(definition).addToServer(server);
}

/** The files and everything they import, dependencies first. */
function collect(files: DescFile[], seen = new Set<string>(), out: DescFile[] = []): DescFile[] {
  for (const file of files) {
    if (seen.has(file.name)) continue;
    seen.add(file.name);
    collect(file.dependencies, seen, out);
    out.push(file);
  }
  return out;
}
