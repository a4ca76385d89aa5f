import { create, createFileRegistry, type DescService, protoInt64 } from "@bufbuild/protobuf";
import {
  type CodeGeneratorRequest,
  CodeGeneratorResponse_Feature,
  CodeGeneratorResponseSchema,
  FileDescriptorSetSchema,
} from "@bufbuild/protobuf/wkt";
import type { Plugin } from "@bufbuild/protoplugin";
import { createOpenApiDocument, type DocumentOptions } from "./openapi-document.ts";

/** The file the plugin writes into its output directory. */
export const outputFile = "openapi.json";

/**
 * protoc-gen-openapi: one OpenAPI 3.1 document (`openapi.json`) for every
 * service in the files to generate. Run it with buf `strategy: all`, so it
 * sees all files at once. Options (`opt` in buf.gen.yaml, each may repeat):
 *
 * - `title=…`, `version=…`: the document's info.
 * - `exclude=<package.Service>`: leave a service out (device-facing gRPC, health).
 * - `public=<package.Service>/<Method>`: callable without a token.
 * - `optional_auth=<package.Service>/<Method>`: a token is optional.
 *
 * buf runs a plugin once per input; an input whose services are all
 * excluded (the health protocol) produces no file, so one input writes the
 * document. There, a `public` or `optional_auth` name that matches no method
 * is an error: a renamed method cannot silently lose its documented access.
 */
export const openApiPlugin: Plugin = {
  name: "protoc-gen-openapi",
  version: "0.1.0",
  run(request) {
    const { services, options } = parseRequest(request);
    const content = services.length > 0 ? `${JSON.stringify(createOpenApiDocument(services, options), null, 2)}\n` : "";
    return create(CodeGeneratorResponseSchema, {
      supportedFeatures: protoInt64.parse(CodeGeneratorResponse_Feature.PROTO3_OPTIONAL),
      file: content ? [{ name: outputFile, content }] : [],
    });
  },
};

function parseRequest(request: CodeGeneratorRequest): { services: DescService[]; options: DocumentOptions } {
  const options = {
    title: "API",
    version: "1",
    publicMethods: new Set<string>(),
    optionalAuthMethods: new Set<string>(),
  };
  const excluded = new Set<string>();
  for (const pair of request.parameter.split(",").filter(Boolean)) {
    const eq = pair.indexOf("=");
    const [key, value] = eq === -1 ? [pair, ""] : [pair.slice(0, eq).trim(), pair.slice(eq + 1).trim()];
    if (key === "title" || key === "version") options[key] = value;
    else if (key === "exclude") excluded.add(value);
    else if (key === "public") options.publicMethods.add(value);
    else if (key === "optional_auth") options.optionalAuthMethods.add(value);
    else throw new Error(`unknown option "${key}" (known: title, version, exclude, public, optional_auth)`);
  }
  const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: request.protoFile }));
  const services = request.fileToGenerate
    .flatMap((name) => registry.getFile(name)?.services ?? [])
    .filter((s) => !excluded.has(s.typeName));
  const methods = new Set(services.flatMap((s) => s.methods.map((m) => `${s.typeName}/${m.name}`)));
  for (const name of [...options.publicMethods, ...options.optionalAuthMethods]) {
    if (services.length > 0 && !methods.has(name)) {
      throw new Error(`${name}: no such method (expected <package.Service>/<Method>)`);
    }
  }
  return { services, options };
}
