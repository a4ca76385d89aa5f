import type { Schema } from "./json-schema.ts";

/**
 * Connect error codes and the HTTP status a unary response carries for each,
 * from the Connect protocol specification (https://connectrpc.com/docs/protocol/#error-codes).
 */
export const connectErrorStatus: ReadonlyArray<readonly [code: string, status: number]> = [
  ["canceled", 499],
  ["unknown", 500],
  ["invalid_argument", 400],
  ["deadline_exceeded", 504],
  ["not_found", 404],
  ["already_exists", 409],
  ["permission_denied", 403],
  ["resource_exhausted", 429],
  ["failed_precondition", 400],
  ["aborted", 409],
  ["out_of_range", 400],
  ["unimplemented", 501],
  ["internal", 500],
  ["unavailable", 503],
  ["data_loss", 500],
  ["unauthenticated", 401],
];

/** Component names of what this module contributes to the document. */
export const connectNames = {
  error: "connect.Error",
  errorDetail: "connect.ErrorDetail",
  endStream: "connect.EndStreamResponse",
  protocolVersion: "Connect-Protocol-Version",
  timeout: "Connect-Timeout-Ms",
  getConnect: "connect",
  getEncoding: "encoding",
  getBase64: "base64",
  getCompression: "compression",
  errorResponse: (status: number) => `connect.error.${status}`,
} as const;

/** Statuses an operation lists: every one a Connect code maps to, except 499 (the client went away first). */
export const errorStatuses: readonly number[] = [...new Set(connectErrorStatus.map(([, s]) => s))]
  .filter((s) => s !== 499)
  .sort((a, b) => a - b);

/** Schemas of the Connect error body and of the end of a stream. */
export function connectSchemas(): Record<string, Schema> {
  return {
    [connectNames.error]: {
      type: "object",
      title: "Error",
      description:
        "The body of every failed unary call (`content-type: application/json`), and the `error` of a stream's end.",
      properties: {
        code: {
          type: "string",
          enum: connectErrorStatus.map(([code]) => code),
          description: "The Connect (gRPC) status code, in snake case.",
        },
        message: { type: "string", description: "What went wrong, for developers; safe to log." },
        details: {
          type: "array",
          items: { $ref: `#/components/schemas/${connectNames.errorDetail}` },
          description: "Structured details as protobuf messages.",
        },
      },
      required: ["code"],
    },
    [connectNames.errorDetail]: {
      type: "object",
      title: "ErrorDetail",
      properties: {
        type: { type: "string", description: "Full protobuf type name of the detail, such as `google.rpc.RetryInfo`." },
        value: { type: "string", contentEncoding: "base64", description: "The detail in the protobuf binary format." },
        debug: { description: "The detail as JSON, when the server adds it; for people, not programs." },
      },
      required: ["type", "value"],
    },
    [connectNames.endStream]: {
      type: "object",
      title: "EndStreamResponse",
      description:
        "The last message of a stream (envelope flags `0x02`): `error` is absent when the call succeeded; `metadata` holds the trailers.",
      properties: {
        error: { $ref: `#/components/schemas/${connectNames.error}` },
        metadata: { type: "object", additionalProperties: { type: "array", items: { type: "string" } } },
      },
    },
  };
}

/** One error response per HTTP status, naming the codes that produce it. */
export function connectErrorResponses(): Record<string, Schema> {
  const responses: Record<string, Schema> = {};
  for (const status of errorStatuses) {
    const codes = connectErrorStatus.filter(([, s]) => s === status).map(([c]) => `\`${c}\``);
    responses[connectNames.errorResponse(status)] = {
      description: `Connect error ${codes.join(", ")}.`,
      ...(status === 429
        ? {
            headers: {
              "Retry-After": {
                description: "Seconds to wait before retrying, when the server knows.",
                schema: { type: "integer", minimum: 0 },
              },
            },
          }
        : {}),
      content: { "application/json": { schema: { $ref: `#/components/schemas/${connectNames.error}` } } },
    };
  }
  return responses;
}

/** Header and query parameters of the Connect protocol, referenced by every operation. */
export function connectParameters(): Record<string, Schema> {
  return {
    [connectNames.protocolVersion]: {
      name: "Connect-Protocol-Version",
      in: "header",
      required: false,
      description: "The Connect protocol version; clients should send it (`connect-web` does).",
      schema: { type: "string", enum: ["1"] },
    },
    [connectNames.timeout]: {
      name: "Connect-Timeout-Ms",
      in: "header",
      required: false,
      description:
        "Deadline of the call in milliseconds; past it the call fails with `deadline_exceeded` (a stream ends with it).",
      schema: { type: "integer", minimum: 1, maximum: 9999999999 },
    },
    [connectNames.getConnect]: {
      name: "connect",
      in: "query",
      required: false,
      description: "The Connect protocol version.",
      schema: { type: "string", enum: ["v1"] },
    },
    [connectNames.getEncoding]: {
      name: "encoding",
      in: "query",
      required: true,
      description: "How `message` is encoded: `json` here (`proto` for the binary form).",
      schema: { type: "string", enum: ["json", "proto"] },
    },
    [connectNames.getBase64]: {
      name: "base64",
      in: "query",
      required: false,
      description: "`1` when `message` is base64url-encoded (needed for `encoding=proto` and compression).",
      schema: { type: "string", enum: ["1"] },
    },
    [connectNames.getCompression]: {
      name: "compression",
      in: "query",
      required: false,
      description: "Compression of `message`, such as `gzip`; absent for none.",
      schema: { type: "string" },
    },
  };
}

/** The Markdown table of codes and statuses for the document's description. */
export function errorTable(): string {
  const rows = connectErrorStatus.map(([code, status]) => `| \`${code}\` | ${status} |`);
  return ["| code | HTTP status |", "|---|---|", ...rows].join("\n");
}
