import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { describe, firstSentence } from "./comments.ts";
import {
  connectErrorResponses,
  connectNames,
  connectParameters,
  connectSchemas,
  errorStatuses,
  errorTable,
} from "./connect-protocol.ts";
import { createSchemaSet, type Schema } from "./json-schema.ts";

/** How the document describes the services. */
export interface DocumentOptions {
  title: string;
  version: string;
  /** Methods anyone may call, as "package.Service/Method": no security requirement. */
  publicMethods: ReadonlySet<string>;
  /** Methods where a token is optional: what they allow depends on the request. */
  optionalAuthMethods: ReadonlySet<string>;
}

const bearerAuth = "bearerAuth";
const json = "application/json";
const connectStream = "application/connect+json";

/**
 * An OpenAPI 3.1 document of services as Connect serves them to web clients:
 * each method is `POST /<package.Service>/<Method>` with JSON bodies in the
 * proto3 JSON mapping; methods without side effects also as `GET`; streaming
 * methods as enveloped `application/connect+json`; Connect errors by HTTP
 * status; a bearer token on every method unless listed as public.
 */
export function createOpenApiDocument(services: readonly DescService[], options: DocumentOptions): Schema {
  const schemas = createSchemaSet();
  const paths: Record<string, Schema> = {};
  for (const service of services) {
    for (const method of service.methods) {
      const name = `${service.typeName}/${method.name}`;
      const optionalAuth = options.optionalAuthMethods.has(name);
      const security = options.publicMethods.has(name) ? [] : optionalAuth ? [{}, { [bearerAuth]: [] }] : undefined;
      const comment = describe(method);
      const about = joinParagraphs(comment, optionalAuth ? optionalAuthNote : undefined);
      const common = {
        tags: [service.typeName],
        summary: comment ? firstSentence(comment) : method.name,
        ...optional("description", about),
        ...(method.deprecated ? { deprecated: true } : {}),
        ...(security ? { security } : {}),
      };
      const input = schemas.message(method.input);
      const output = schemas.message(method.output);
      paths[`/${name}`] =
        method.methodKind === "unary"
          ? {
              post: { ...common, operationId: operationId(method), ...unaryPost(input, output) },
              ...(method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS
                ? {
                    get: {
                      ...common,
                      operationId: `${operationId(method)}.get`,
                      ...unaryGet(input, output),
                      description: joinParagraphs(about, getNote),
                    },
                  }
                : {}),
            }
          : { post: { ...common, operationId: operationId(method), ...streaming(method, about, input, output) } };
    }
  }
  return {
    openapi: "3.1.1",
    info: { title: options.title, version: options.version, description: documentDescription() },
    tags: services.map((s) => ({ name: s.typeName, ...optional("description", describe(s)) })),
    security: [{ [bearerAuth]: [] }],
    paths,
    components: {
      schemas: { ...schemas.components(), ...connectSchemas() },
      responses: connectErrorResponses(),
      parameters: connectParameters(),
      securitySchemes: {
        [bearerAuth]: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "JWT",
          description: "An access token, sent as `Authorization: Bearer <token>`.",
        },
      },
    },
  };
}

function operationId(method: DescMethod): string {
  return `${method.parent.typeName}.${method.name}`;
}

const optionalAuthNote =
  "The bearer token is optional here: whether the call needs one depends on the request and the server's settings.";

function joinParagraphs(...paragraphs: Array<string | undefined>): string | undefined {
  return paragraphs.filter(Boolean).join("\n\n") || undefined;
}

function parameterRefs(...names: string[]): Schema[] {
  return names.map((n) => ({ $ref: `#/components/parameters/${n}` }));
}

function errorResponses(): Record<string, Schema> {
  return Object.fromEntries(
    errorStatuses.map((s) => [String(s), { $ref: `#/components/responses/${connectNames.errorResponse(s)}` }]),
  );
}

function unaryPost(input: Schema, output: Schema): Schema {
  return {
    parameters: parameterRefs(connectNames.protocolVersion, connectNames.timeout),
    requestBody: { required: true, content: { [json]: { schema: input } } },
    responses: {
      "200": { description: "The response message.", content: { [json]: { schema: output } } },
      ...errorResponses(),
    },
  };
}

const getNote =
  "The same call as a cacheable GET (the method has no side effects): the request message goes in the query string.";

function unaryGet(input: Schema, output: Schema): Schema {
  return {
    parameters: [
      ...parameterRefs(connectNames.getConnect, connectNames.getEncoding),
      {
        name: "message",
        in: "query",
        required: true,
        description: "The request message, URL-encoded JSON (`encoding=json`).",
        content: { [json]: { schema: input } },
      },
      ...parameterRefs(connectNames.getBase64, connectNames.getCompression, connectNames.timeout),
    ],
    responses: {
      "200": { description: "The response message.", content: { [json]: { schema: output } } },
      ...errorResponses(),
    },
  };
}

function streaming(method: DescMethod, about: string | undefined, input: Schema, output: Schema): Schema {
  const many = (side: "request" | "response") =>
    side === "request" ? method.methodKind !== "server_streaming" : method.methodKind !== "client_streaming";
  const framing =
    "Connect streaming: the body is a sequence of enveloped messages, each a 5-byte prefix " +
    "(1 byte of flags, `0x00` for a message, then the JSON length as a big-endian uint32) followed by the JSON. " +
    "OpenAPI cannot describe this framing; the schemas below are those of one message.";
  return {
    description: [
      about,
      framing,
      `Errors do not change the HTTP status (200): the response ends with a message flagged \`0x02\`, a \`${connectNames.endStream}\` whose \`error\` is set when the call failed.`,
      method.methodKind === "bidi_streaming" ? "Needs HTTP/2: both sides stream at once." : undefined,
    ]
      .filter(Boolean)
      .join("\n\n"),
    "x-connect-streaming": method.methodKind,
    parameters: parameterRefs(connectNames.protocolVersion, connectNames.timeout),
    requestBody: {
      required: true,
      description: many("request") ? "Enveloped request messages." : "Exactly one enveloped request message.",
      content: { [connectStream]: { schema: input } },
    },
    responses: {
      "200": {
        description: many("response")
          ? `Enveloped response messages, then a \`${connectNames.endStream}\`.`
          : `One enveloped response message, then a \`${connectNames.endStream}\`.`,
        content: { [connectStream]: { schema: output } },
      },
    },
  };
}

function documentDescription(): string {
  return `Every method is served with the [Connect protocol](https://connectrpc.com/docs/protocol/) over HTTP/1.1 and HTTP/2: \`POST /<package>.<Service>/<Method>\` with \`content-type: application/json\` and the request message as the body. Methods without side effects can also be called with \`GET\`, the message in the query string. The same paths serve gRPC and gRPC-Web, for clients generated from the .proto files.

Messages follow the [proto3 JSON mapping](https://protobuf.dev/programming-guides/json/): field names in lowerCamelCase (the .proto names are accepted too); fields at their default value (0, "", false, empty) are left out of responses; 64-bit integers are strings; enums are value names; \`google.protobuf.Timestamp\` is an RFC 3339 string such as \`"2026-01-01T12:00:00Z"\`; \`google.protobuf.Duration\` is seconds with an \`s\` suffix such as \`"3600s"\`; \`google.protobuf.Struct\` is any JSON object; \`bytes\` are base64. Unknown fields in a request are refused with \`invalid_argument\` naming the field, so a misspelt filter field cannot quietly widen an update or a delete.

A failed unary call answers with a JSON body \`{"code": …, "message": …, "details": […]}\` and the HTTP status of its code. \`details\` holds [google.rpc](https://github.com/googleapis/googleapis/blob/master/google/rpc/error_details.proto) messages: a \`google.rpc.BadRequest\` with the refused fields (proto field paths such as \`filter.device_code\`) for \`invalid_argument\`, a \`google.rpc.RetryInfo\` with the delay for \`resource_exhausted\` (also the \`retry-after\` header, in seconds).


${errorTable()}

Server streams (\`application/connect+json\`) answer 200 and carry a failure in their last message instead.`;
}

function optional(key: string, value: string | undefined): Schema {
  return value ? { [key]: value } : {};
}
