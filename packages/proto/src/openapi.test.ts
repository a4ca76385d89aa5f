import { readFileSync } from "node:fs";
import {
  create,
  createRegistry,
  type DescField,
  type DescMessage,
  protoInt64,
  ScalarType,
  toJson,
} from "@bufbuild/protobuf";
import { reflect } from "@bufbuild/protobuf/reflect";
import { Code, ConnectError } from "@connectrpc/connect";
import { codeToHttpStatus, codeToString, endStreamToJson, errorToJson } from "@connectrpc/connect/protocol-connect";
import { validate as validateOpenApi } from "@readme/openapi-parser";
import { Ajv2020 } from "ajv/dist/2020.js";
import { describe, expect, it } from "vitest";
import {
  AlertService,
  AuditService,
  AuthService,
  DeadLetterService,
  DeviceService,
  FleetService,
  file_vigil_alerts_v1_alerts,
  file_vigil_audit_v1_audit,
  file_vigil_auth_v1_auth,
  file_vigil_auth_v1_sso,
  file_vigil_devices_v1_devices,
  file_vigil_fleet_v1_fleet,
  file_vigil_ingest_v1_dead_letters,
  file_vigil_ingest_v1_ingest,
  file_vigil_maintenance_v1_maintenance,
  file_vigil_procedures_v1_procedures,
  file_vigil_readings_v1_readings,
  MaintenanceService,
  openApiDocumentUrl,
  ProcedureService,
  ReadingService,
  SsoService,
  UserService,
} from "./index.ts";

// biome-ignore lint/suspicious/noExplicitAny: a parsed JSON document, walked by the assertions.
type Json = Record<string, any>;
const doc: Json = JSON.parse(readFileSync(openApiDocumentUrl, "utf8"));
const registry = createRegistry(
  file_vigil_alerts_v1_alerts,
  file_vigil_audit_v1_audit,
  file_vigil_auth_v1_auth,
  file_vigil_auth_v1_sso,
  file_vigil_devices_v1_devices,
  file_vigil_ingest_v1_dead_letters,
  file_vigil_ingest_v1_ingest,
  file_vigil_readings_v1_readings,
  file_vigil_fleet_v1_fleet,
  file_vigil_procedures_v1_procedures,
  file_vigil_maintenance_v1_maintenance,
);
const webServices = [
  ReadingService,
  AuthService,
  UserService,
  SsoService,
  DeviceService,
  DeadLetterService,
  AuditService,
  FleetService,
  ProcedureService,
  MaintenanceService,
  AlertService,
];

/**
 * The document's component schemas as one JSON Schema, with every message
 * closed (no properties beyond the documented ones), so a field the document
 * misses or misnames fails validation.
 */
function schemaValidator() {
  const schemas = JSON.parse(JSON.stringify(doc.components.schemas).replaceAll("#/components/schemas/", "#/$defs/"));
  for (const schema of Object.values<Json>(schemas)) {
    if (schema.type === "object" && schema.properties) schema.additionalProperties = false;
  }
  const ajv = new Ajv2020({ strict: true, validateFormats: false, allErrors: true });
  // Checked against the JSON Schema 2020-12 meta-schema here, which the OpenAPI validator leaves out.
  ajv.addSchema({ $id: "openapi", $defs: schemas });
  return (typeName: string, value: unknown) => {
    const check = ajv.getSchema(`openapi#/$defs/${typeName}`);
    if (!check) throw new Error(`no schema ${typeName}`);
    return check(value) ? [] : (check.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
  };
}

/** A message with every field set (the last member of each oneof wins), nested two levels deep. */
function filled(desc: DescMessage, depth = 0): ReturnType<typeof reflect> {
  const message = reflect(desc);
  if (desc.typeName === "google.protobuf.Timestamp") {
    message.set(desc.field.seconds!, protoInt64.parse(1767225600));
    message.set(desc.field.nanos!, 500_000_000);
    return message;
  }
  if (desc.typeName === "google.protobuf.Duration") {
    message.set(desc.field.seconds!, protoInt64.parse(3600));
    return message;
  }
  if (desc.typeName === "google.protobuf.Value") {
    message.set(desc.field.numberValue!, 1.5);
    return message;
  }
  if (depth > 2) return message;
  for (const field of desc.fields) {
    const sample = (f: DescField): unknown => {
      if (f.message) return filled(f.message, depth + 1);
      if (f.enum) return f.enum.values.at(-1)!.number;
      return scalarSample(f.scalar!);
    };
    if (field.fieldKind === "list") message.get(field).add(sample(field));
    else if (field.fieldKind === "map") message.get(field).set(scalarSample(field.mapKey), sample(field));
    else message.set(field, sample(field));
  }
  return message;
}

function scalarSample(type: ScalarType): unknown {
  switch (type) {
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return 1.5;
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return -7;
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return 7;
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return protoInt64.parse("-9007199254740993");
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return protoInt64.uParse("18446744073709551615");
    case ScalarType.BOOL:
      return true;
    case ScalarType.STRING:
      return "text";
    case ScalarType.BYTES:
      return new Uint8Array([1, 2, 3]);
  }
}

describe("the OpenAPI document of the Connect-JSON API", () => {
  it("is a valid OpenAPI 3.1 document", async () => {
    expect(doc.openapi).toMatch(/^3\.1\./);
    const result = await validateOpenApi(structuredClone(doc) as Parameters<typeof validateOpenApi>[0]);
    expect(result.valid ? [] : result.errors).toEqual([]);
    expect(result.warnings).toEqual([]);
    // The validator does not look into security requirements: they must name a declared scheme.
    const schemes = Object.keys(doc.components.securitySchemes);
    const operations = Object.values<Json>(doc.paths).flatMap((p) => Object.values<Json>(p));
    for (const requirement of [doc.security, ...operations.map((op) => op.security ?? [])].flat()) {
      for (const scheme of Object.keys(requirement)) expect(schemes).toContain(scheme);
    }
  });

  it("has POST /<package.Service>/<Method> for every web-facing method, and nothing device-facing", () => {
    const expected = webServices.flatMap((s) => s.methods.map((m) => `/${s.typeName}/${m.name}`));
    expect(Object.keys(doc.paths).sort()).toEqual(expected.sort());
    for (const path of expected) expect(doc.paths[path].post.operationId).toBe(path.slice(1).replace("/", "."));
  });

  it("offers GET exactly for the methods without side effects", () => {
    const withGet = Object.keys(doc.paths).filter((p) => doc.paths[p].get);
    expect(withGet.sort()).toEqual(
      [
        "/vigil.audit.v1.AuditService/ListAuditLog",
        "/vigil.alerts.v1.AlertService/GetAlert",
        "/vigil.alerts.v1.AlertService/ListAlertRules",
        "/vigil.alerts.v1.AlertService/ListAlerts",
        "/vigil.alerts.v1.AlertService/ListDeliveries",
        "/vigil.alerts.v1.AlertService/ListNotificationChannels",
        "/vigil.alerts.v1.AlertService/ListSilences",
        "/vigil.devices.v1.DeviceService/GetDevice",
        "/vigil.devices.v1.DeviceService/ListDevices",
        "/vigil.ingest.v1.DeadLetterService/ListDeadLetters",
        "/vigil.readings.v1.ReadingService/GetReadingHistory",
        "/vigil.readings.v1.ReadingService/GetStats",
        "/vigil.readings.v1.ReadingService/ListReadings",
        "/vigil.fleet.v1.FleetService/GetSite",
        "/vigil.fleet.v1.FleetService/ListSites",
        "/vigil.fleet.v1.FleetService/GetFleetSummary",
        "/vigil.procedures.v1.ProcedureService/GetProcedure",
        "/vigil.procedures.v1.ProcedureService/ListProcedures",
        "/vigil.procedures.v1.ProcedureService/GetProcedureTelemetry",
        "/vigil.maintenance.v1.MaintenanceService/GetMaintenanceRecord",
        "/vigil.maintenance.v1.MaintenanceService/ListMaintenanceRecords",
        "/vigil.maintenance.v1.MaintenanceService/GetMaintenanceForecast",
        "/vigil.maintenance.v1.MaintenanceService/ListMaintenanceForecasts",
      ].sort(),
    );
  });

  it("describes WatchReadings as a Connect server stream", () => {
    const op = doc.paths["/vigil.readings.v1.ReadingService/WatchReadings"].post;
    expect(Object.keys(op.requestBody.content)).toEqual(["application/connect+json"]);
    expect(op.responses["200"].content["application/connect+json"].schema.$ref).toMatch(/WatchReadingsResponse$/);
    expect(op.description).toMatch(/OpenAPI cannot describe this framing/);
  });

  it("takes descriptions from the proto comments", () => {
    expect(doc.paths["/vigil.readings.v1.ReadingService/ListReadings"].post.summary).toBe(
      "ListReadings returns stored readings matching a filter, one page at a time.",
    );
    expect(doc.components.schemas["vigil.readings.v1.ListReadingsRequest"].properties.pageSize.description).toBe(
      "Readings per page, 1 to 1000; 0 means 100.",
    );
  });

  it("matches what protobuf-es writes for every message, field by field", () => {
    const check = schemaValidator();
    const names = Object.keys(doc.components.schemas).filter((name) => !name.startsWith("connect."));
    const messages = names.filter((name) => registry.getMessage(name));
    expect(names.filter((name) => !registry.getMessage(name) && !registry.getEnum(name))).toEqual([]);
    expect(messages.length).toBeGreaterThan(40);
    for (const name of messages) {
      const desc = registry.getMessage(name)!;
      expect(check(name, toJson(desc, create(desc))), `${name} empty`).toEqual([]);
      const json = toJson(desc, filled(desc).message as never);
      expect(check(name, json), `${name} ${JSON.stringify(json)}`).toEqual([]);
    }
  });

  it("spells 64-bit integers, timestamps, durations and enums as the JSON mapping does", () => {
    const check = schemaValidator();
    expect(check("vigil.readings.v1.ListReadingsResponse", { totalSize: "3" })).toEqual([]);
    expect(check("vigil.readings.v1.ListReadingsResponse", { totalSize: 3 })).not.toEqual([]);
    expect(check("vigil.readings.v1.ReadingFilter", { startTime: 1767225600000 })).not.toEqual([]);
    expect(check("vigil.readings.v1.ListReadingsRequest", { order: "ORDER_NEWEST_FIRST" })).toEqual([]);
    expect(check("vigil.readings.v1.ListReadingsRequest", { order: "NEWEST" })).not.toEqual([]);
    expect(check("vigil.devices.v1.RotateDeviceKeyRequest", { gracePeriod: "3600s" })).toEqual([]);
    expect(check("vigil.devices.v1.RotateDeviceKeyRequest", { gracePeriod: "1h" })).not.toEqual([]);
    expect(check("vigil.readings.v1.ReadingFilter", { device_code: "OR" })).not.toEqual([]);
  });

  it("describes Connect errors as connect-es writes them, with their HTTP statuses", () => {
    const check = schemaValidator();
    const err = new ConnectError("no such device", Code.NotFound, undefined, [
      { desc: registry.getMessage("vigil.ingest.v1.Violation")!, value: { field: "code", description: "x" } },
    ]);
    expect(check("connect.Error", errorToJson(err, undefined))).toEqual([]);
    expect(check("connect.EndStreamResponse", endStreamToJson(new Headers({ a: "b" }), err, undefined))).toEqual([]);
    expect(check("connect.EndStreamResponse", endStreamToJson(new Headers(), undefined, undefined))).toEqual([]);
    const codes = Object.values(Code).filter((c): c is Code => typeof c === "number");
    expect(doc.components.schemas["connect.Error"].properties.code.enum.sort()).toEqual(
      codes.map((c) => codeToString(c)).sort(),
    );
    for (const code of codes.filter((c) => c !== Code.Canceled)) {
      const response = doc.components.responses[`connect.error.${codeToHttpStatus(code)}`];
      expect(response?.description, codeToString(code)).toContain(`\`${codeToString(code)}\``);
    }
  });
});
