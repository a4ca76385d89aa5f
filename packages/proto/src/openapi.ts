/**
 * Where the OpenAPI 3.1 document of the Connect-JSON API is: generated from
 * the protos by `tools/protoc-gen-openapi.ts` during `npm run generate`, and
 * committed with the rest of `src/gen`. A URL, not the bytes, so importing
 * this package reads no file.
 */
export const openApiDocumentUrl: URL = new URL("./gen/openapi.json", import.meta.url);
