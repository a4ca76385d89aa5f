/**
 * Where the OpenAPI 3.1 document of the Connect-JSON API is: generated from
 * the protos by `tools/protoc-gen-openapi.ts` during `npm run generate`, and
 * committed with the rest of `src/gen`. A URL, not the bytes, so importing
 * this package reads no file.
 */
// A constant, not a literal in `new URL(…)`: bundlers (the console's Vite build) would copy a literal's
// file into their output and publish the API description with the console.
const GENERATED_DOCUMENT = "./gen/openapi.json";
export const openApiDocumentUrl: URL = new URL(GENERATED_DOCUMENT, import.meta.url);
