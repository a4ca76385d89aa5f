import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

type Json = Record<string, unknown>;

/** Where scripts/install-tools.sh kube-schemas puts the API documents. */
export interface ApiDocuments {
  /** Kubernetes' OpenAPI v2 document (api/openapi-spec/swagger.json of the release). */
  swaggerFile: string;
  /** CRD manifests whose schemas are wanted too (the ServiceMonitor's). */
  crdFiles: string[];
}

/**
 * Writes kubeconform's "standalone strict" schemas (one self-contained JSON
 * Schema per kind, `<kind>-<group>-<version>.json`, unknown fields refused)
 * for the kinds asked for, converted from the API documents the way
 * kubeconform's openapi2jsonschema does: references inlined as local
 * definitions, int-or-string and quantities accept both, optional fields
 * accept null. Returns kubeconform's -schema-location template.
 */
export function writeKubeconformSchemas(
  docs: ApiDocuments,
  kinds: Array<{ apiVersion: string; kind: string }>,
  outDir: string,
): string {
  mkdirSync(outDir, { recursive: true });
  const swagger = JSON.parse(readFileSync(docs.swaggerFile, "utf8")) as { definitions: Record<string, Json> };
  const byGvk = new Map<string, string>();
  for (const [name, def] of Object.entries(swagger.definitions)) {
    for (const gvk of (def["x-kubernetes-group-version-kind"] as Json[] | undefined) ?? []) {
      byGvk.set(gvkKey(String(gvk.group), String(gvk.version), String(gvk.kind)), name);
    }
  }
  const crds = new Map<string, Json>();
  for (const file of docs.crdFiles) {
    const crd = parse(readFileSync(file, "utf8")) as Json;
    const spec = crd.spec as { group: string; names: { kind: string }; versions: Json[] };
    for (const v of spec.versions) {
      const schema = (v.schema as { openAPIV3Schema: Json }).openAPIV3Schema;
      crds.set(gvkKey(spec.group, String(v.name), spec.names.kind), schema);
    }
  }
  for (const { apiVersion, kind } of kinds) {
    const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
    const key = gvkKey(group!, version!, kind);
    let schema: Json;
    const definition = byGvk.get(key);
    if (definition) schema = standalone(swagger.definitions, definition);
    else if (crds.has(key)) schema = strict(structuredClone(crds.get(key)!));
    else continue; // kubeconform then reports the kind as having no schema
    const suffix = group ? `-${group.split(".")[0]}-${version}` : `-${version}`;
    writeFileSync(join(outDir, `${kind.toLowerCase()}${suffix}.json`), JSON.stringify(schema));
  }
  return join(outDir, "{{ .ResourceKind }}{{ .KindSuffix }}.json");
}

function gvkKey(group: string, version: string, kind: string): string {
  return `${group}/${version}/${kind}`;
}

/** One definition with every definition it reaches, refs rewritten to local ones. */
function standalone(all: Record<string, Json>, root: string): Json {
  const needed = new Set<string>();
  const visit = (name: string) => {
    if (needed.has(name)) return;
    needed.add(name);
    walkRefs(all[name], (ref) => visit(ref));
  };
  visit(root);
  const definitions: Record<string, Json> = {};
  for (const name of needed) definitions[name] = convert(structuredClone(all[name]!));
  const top = definitions[root]!;
  return { $schema: "http://json-schema.org/draft-07/schema#", ...top, definitions };
}

function walkRefs(node: unknown, onRef: (name: string) => void): void {
  if (Array.isArray(node)) for (const n of node) walkRefs(n, onRef);
  else if (node && typeof node === "object") {
    for (const [k, v] of Object.entries(node)) {
      if (k === "$ref" && typeof v === "string") onRef(v.replace("#/definitions/", ""));
      else walkRefs(v, onRef);
    }
  }
}

const QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity";

/** Swagger 2 schema → strict JSON Schema, as openapi2jsonschema --strict does. */
function convert(node: Json): Json {
  if (node.format === "int-or-string") return { oneOf: [{ type: "string" }, { type: "integer" }] };
  if (node.type === "string" && String(node.description ?? "").startsWith("Quantity is a fixed-point")) {
    return { oneOf: [{ type: "string" }, { type: "number" }] };
  }
  for (const [k, v] of Object.entries(node)) {
    if (k.startsWith("x-kubernetes-")) delete node[k];
    else if (v && typeof v === "object" && !Array.isArray(v) && k !== "properties") node[k] = convert(v as Json);
  }
  if (node.$ref === `#/definitions/${QUANTITY}`) return { oneOf: [{ type: "string" }, { type: "number" }] };
  const props = node.properties as Record<string, Json> | undefined;
  if (props) {
    const required = new Set((node.required as string[] | undefined) ?? []);
    for (const [name, prop] of Object.entries(props)) {
      const converted = convert(prop);
      props[name] = required.has(name) ? converted : nullable(converted);
    }
    node.additionalProperties ??= false;
  }
  if (Array.isArray(node.allOf)) node.allOf = node.allOf.map((n) => convert(n as Json));
  return node;
}

function nullable(node: Json): Json {
  if (typeof node.type === "string") return { ...node, type: [node.type, "null"] };
  if (node.$ref || node.oneOf) return { oneOf: [node, { type: "null" }] };
  return node;
}

/** A CRD's OpenAPI v3 schema with unknown fields refused where it lists the fields. */
function strict(node: Json): Json {
  if (node["x-kubernetes-int-or-string"]) return { oneOf: [{ type: "string" }, { type: "integer" }] };
  for (const [k, v] of Object.entries(node)) {
    if (k.startsWith("x-kubernetes-")) delete node[k];
    else if (k === "properties" && v && typeof v === "object") {
      for (const [name, prop] of Object.entries(v as Record<string, Json>)) {
        (v as Record<string, Json>)[name] = strict(prop);
      }
    } else if (v && typeof v === "object" && !Array.isArray(v)) node[k] = strict(v as Json);
  }
  if (node.properties && node.additionalProperties === undefined) node.additionalProperties = false;
  return node;
}
