/**
 * The protoc/buf plugin executable: reads a CodeGeneratorRequest on stdin and
 * writes the OpenAPI document of the Connect-JSON API. Run by `buf generate`
 * as `node packages/proto/tools/protoc-gen-openapi.ts` (Node 24 runs the
 * TypeScript directly); see openapi-plugin.ts for its options.
 */
import { runNodeJs } from "@bufbuild/protoplugin";
import { openApiPlugin } from "./openapi-plugin.ts";

runNodeJs(openApiPlugin);
