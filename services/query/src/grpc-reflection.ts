import { type DescFile, type DescMessage, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { reflection } from "@vigil/proto";

type Response = reflection.ServerReflectionResponse["messageResponse"];

/**
 * grpc.reflection.v1.ServerReflection over Connect (HTTP/2), so grpcurl and
 * buf curl can call the query port without proto files, as on the
 * receiver's port. Answers from the generated descriptors of the served
 * files and everything they import.
 */
export function grpcReflection(files: DescFile[]): ServiceImpl<typeof reflection.ServerReflection> {
  const services = files.flatMap((f) => f.services.map((s) => s.typeName));
  const byName = new Map<string, DescFile>();
  const bySymbol = new Map<string, DescFile>();
  const addMessage = (m: DescMessage, file: DescFile) => {
    bySymbol.set(m.typeName, file);
    for (const e of m.nestedEnums) bySymbol.set(e.typeName, file);
    for (const n of m.nestedMessages) addMessage(n, file);
  };
  for (const root of files) {
    for (const file of withImports(root)) {
      byName.set(file.proto.name, file);
      for (const m of file.messages) addMessage(m, file);
      for (const e of file.enums) bySymbol.set(e.typeName, file);
      for (const s of file.services) {
        bySymbol.set(s.typeName, file);
        for (const method of s.methods) bySymbol.set(`${s.typeName}.${method.name}`, file);
      }
    }
  }

  const fileResponse = (file: DescFile | undefined, what: string): Response =>
    file
      ? {
          case: "fileDescriptorResponse",
          value: {
            $typeName: "grpc.reflection.v1.FileDescriptorResponse",
            fileDescriptorProto: withImports(file).map((f) => toBinary(FileDescriptorProtoSchema, f.proto)),
          },
        }
      : notFound(what);

  const answer = (req: reflection.ServerReflectionRequest): Response => {
    const q = req.messageRequest;
    switch (q.case) {
      case "listServices":
        return {
          case: "listServicesResponse",
          value: {
            $typeName: "grpc.reflection.v1.ListServiceResponse",
            service: services.map((name) => ({ $typeName: "grpc.reflection.v1.ServiceResponse", name })),
          },
        };
      case "fileByFilename":
        return fileResponse(byName.get(q.value), `file ${q.value}`);
      case "fileContainingSymbol": {
        const symbol = q.value.replace(/^\./, "");
        return fileResponse(bySymbol.get(symbol), `symbol ${symbol}`);
      }
      default:
        return notFound("extensions (Vigil's protos declare none)");
    }
  };

  return {
    async *serverReflectionInfo(requests) {
      for await (const req of requests) {
        yield { validHost: req.host, originalRequest: req, messageResponse: answer(req) };
      }
    },
  };
}

/** The file and its imports, each once, dependencies first. */
function withImports(file: DescFile, out: DescFile[] = [], seen = new Set<string>()): DescFile[] {
  if (seen.has(file.name)) return out;
  seen.add(file.name);
  for (const dep of file.dependencies) withImports(dep, out, seen);
  out.push(file);
  return out;
}

function notFound(what: string): Response {
  return {
    case: "errorResponse",
    value: { $typeName: "grpc.reflection.v1.ErrorResponse", errorCode: 5, errorMessage: `${what} not found` },
  };
}
