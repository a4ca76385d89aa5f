import { type DescEnum, type DescField, type DescMessage, ScalarType } from "@bufbuild/protobuf";
import { describe } from "./comments.ts";

/** A JSON Schema (2020-12, the dialect of OpenAPI 3.1) as plain data. */
export type Schema = { [keyword: string]: unknown };

/** A reference to a component schema named by its full protobuf type name. */
export function schemaRef(typeName: string): Schema {
  return { $ref: `#/components/schemas/${typeName}` };
}

/**
 * Schemas of the proto3 JSON mapping (https://protobuf.dev/programming-guides/json/)
 * for messages and enums, collected as they are referenced, so the document
 * holds exactly the types its operations use.
 */
export interface SchemaSet {
  /** The schema of a JSON value of this message: inline for well-known types, else a $ref. */
  message(desc: DescMessage): Schema;
  /** Component schemas referenced so far, by full type name, sorted by name. */
  components(): Record<string, Schema>;
}

/** Creates an empty {@link SchemaSet}. */
export function createSchemaSet(): SchemaSet {
  const components = new Map<string, Schema>();

  function message(desc: DescMessage): Schema {
    const known = wellKnownSchema(desc);
    if (known) return known;
    if (!components.has(desc.typeName)) {
      // Reserve the name first: messages may refer to themselves.
      components.set(desc.typeName, {});
      components.set(desc.typeName, messageComponent(desc));
    }
    return schemaRef(desc.typeName);
  }

  function enumeration(desc: DescEnum): Schema {
    // NullValue is how Struct spells JSON null.
    if (desc.typeName === "google.protobuf.NullValue") return { type: "null" };
    if (!components.has(desc.typeName)) components.set(desc.typeName, enumComponent(desc));
    return schemaRef(desc.typeName);
  }

  function messageComponent(desc: DescMessage): Schema {
    const properties: Record<string, Schema> = {};
    for (const field of desc.fields) {
      properties[field.jsonName] = withAnnotations(fieldSchema(field), fieldDescription(field), field.deprecated);
    }
    const description = describe(desc);
    return {
      type: "object",
      title: desc.name,
      ...(description ? { description } : {}),
      ...(desc.deprecated ? { deprecated: true } : {}),
      ...(desc.fields.length > 0 ? { properties } : {}),
    };
  }

  function fieldSchema(field: DescField): Schema {
    switch (field.fieldKind) {
      case "scalar":
        return scalarSchema(field.scalar);
      case "enum":
        return enumeration(field.enum);
      case "message":
        return message(field.message);
      case "list":
        return { type: "array", items: elementSchema(field) };
      case "map":
        return {
          type: "object",
          ...mapKeySchema(field.mapKey),
          additionalProperties: elementSchema(field),
        };
    }
  }

  function elementSchema(field: DescField & { fieldKind: "list" | "map" }): Schema {
    const kind = field.fieldKind === "list" ? field.listKind : field.mapKind;
    if (kind === "message") return message(field.message!);
    if (kind === "enum") return enumeration(field.enum!);
    return scalarSchema(field.scalar!);
  }

  return {
    message,
    components() {
      return Object.fromEntries([...components].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    },
  };
}

/** The JSON form of a scalar: 64-bit integers are strings, so no precision is lost in JavaScript. */
export function scalarSchema(type: ScalarType): Schema {
  switch (type) {
    case ScalarType.DOUBLE:
      return { type: "number", format: "double" };
    case ScalarType.FLOAT:
      return { type: "number", format: "float" };
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return { type: "integer", format: "int32", minimum: -2147483648, maximum: 2147483647 };
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return { type: "integer", format: "uint32", minimum: 0, maximum: 4294967295 };
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return { type: "string", format: "int64", pattern: "^-?[0-9]+$" };
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return { type: "string", format: "uint64", pattern: "^[0-9]+$" };
    case ScalarType.BOOL:
      return { type: "boolean" };
    case ScalarType.STRING:
      return { type: "string" };
    case ScalarType.BYTES:
      return { type: "string", contentEncoding: "base64" };
  }
}

/** JSON object keys are strings; integer and bool map keys are written as their decimal or literal text. */
function mapKeySchema(key: ScalarType): Schema {
  switch (key) {
    case ScalarType.BOOL:
      return { propertyNames: { enum: ["true", "false"] } };
    case ScalarType.STRING:
      return {};
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return { propertyNames: { pattern: "^[0-9]+$" } };
    default:
      return { propertyNames: { pattern: "^-?[0-9]+$" } };
  }
}

const wrappers = new Set(
  ["Double", "Float", "Int64", "UInt64", "Int32", "UInt32", "Bool", "String", "Bytes"].map(
    (t) => `google.protobuf.${t}Value`,
  ),
);

/** Well-known types have their own JSON forms and are inlined rather than referenced. */
function wellKnownSchema(desc: DescMessage): Schema | undefined {
  switch (desc.typeName) {
    case "google.protobuf.Timestamp":
      return { type: "string", format: "date-time", examples: ["2026-01-01T12:00:00Z"] };
    case "google.protobuf.Duration":
      return { type: "string", pattern: "^-?[0-9]+(\\.[0-9]{1,9})?s$", examples: ["3600s", "0.5s"] };
    case "google.protobuf.Struct":
      return { type: "object" };
    case "google.protobuf.Value":
      return {};
    case "google.protobuf.ListValue":
      return { type: "array", items: {} };
    case "google.protobuf.FieldMask":
      return { type: "string", examples: ["sensor,value"] };
    case "google.protobuf.Empty":
      return { type: "object" };
    case "google.protobuf.Any":
      return { type: "object", properties: { "@type": { type: "string" } }, required: ["@type"] };
  }
  if (wrappers.has(desc.typeName)) {
    const value = desc.fields[0];
    return value?.fieldKind === "scalar" ? scalarSchema(value.scalar) : undefined;
  }
  return undefined;
}

function enumComponent(desc: DescEnum): Schema {
  // Each value's comment, as a list under the enum's own description.
  const values = desc.values
    .map((v) => ({ name: v.name, text: describe(v) }))
    .filter((v) => v.text)
    .map((v) => `- \`${v.name}\`: ${v.text!.replaceAll("\n", " ")}`);
  const description = [describe(desc), values.join("\n")].filter(Boolean).join("\n\n");
  return withAnnotations(
    { type: "string", title: desc.name, enum: desc.values.map((v) => v.name) },
    description || undefined,
    desc.deprecated,
  );
}

function fieldDescription(field: DescField): string | undefined {
  const own = describe(field);
  if (!field.oneof) return own;
  const members = field.oneof.fields.map((f) => `\`${f.jsonName}\``).join(", ");
  return [own, `Part of the oneof \`${field.oneof.name}\`: set at most one of ${members}.`]
    .filter(Boolean)
    .join("\n\n");
}

function withAnnotations(schema: Schema, description: string | undefined, deprecated: boolean): Schema {
  return {
    ...schema,
    ...(description ? { description } : {}),
    ...(deprecated ? { deprecated: true } : {}),
  };
}
