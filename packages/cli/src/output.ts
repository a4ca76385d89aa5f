import type { Writable } from "node:stream";
import { type DescMessage, type MessageShape, toJson } from "@bufbuild/protobuf";
import Table from "cli-table3";

/** Borders around the table and the header, none between rows: denser lists. */
const COMPACT = { mid: "", "left-mid": "", "mid-mid": "", "right-mid": "" };

/** A column of a table: the API field name as header, and how to read it from a row (dotted path by default). */
export type Column = string | { header: string; value: (row: Record<string, unknown>) => unknown };

/**
 * A message as JSON with the API's field names (as Connect-JSON has them),
 * every field present even when it holds its default (false, 0, ""), so
 * scripts need not know proto3's defaults.
 */
export function messageJson<Desc extends DescMessage>(
  schema: Desc,
  message: MessageShape<Desc>,
): Record<string, unknown> {
  return toJson(schema, message, { alwaysEmitImplicit: true }) as Record<string, unknown>;
}

/**
 * Prints results: JSON when asked (`--json`) or when stdout is not a
 * terminal (a pipe, a file, a script), a table for people otherwise. Both
 * use the API's field names.
 */
export class Output {
  readonly #out: Writable & { isTTY?: boolean };
  readonly #json: () => boolean;

  constructor(out: Writable & { isTTY?: boolean }, json: () => boolean) {
    this.#out = out;
    this.#json = json;
  }

  get json(): boolean {
    return this.#json() || !this.#out.isTTY;
  }

  /** Rows as a JSON array, or a table with these columns. */
  list(rows: Array<Record<string, unknown>>, columns: Column[]): void {
    if (this.json) {
      this.#write(JSON.stringify(rows, null, 2));
      return;
    }
    if (rows.length === 0) {
      this.#write("(none)");
      return;
    }
    const table = new Table({ head: columns.map(header), chars: COMPACT, style: { head: [], border: [] } });
    for (const row of rows) table.push(columns.map((c) => cell(typeof c === "string" ? path(row, c) : c.value(row))));
    this.#write(table.toString());
  }

  /** One object as JSON, or as a two-column table of its (flattened) fields. */
  object(value: Record<string, unknown>): void {
    if (this.json) {
      this.#write(JSON.stringify(value, null, 2));
      return;
    }
    const table = new Table({ chars: COMPACT, style: { head: [], border: [] } });
    for (const [key, v] of flatten(value)) table.push({ [key]: cell(v) });
    this.#write(table.toString());
  }

  #write(text: string): void {
    this.#out.write(`${text}\n`);
  }
}

function header(c: Column): string {
  return typeof c === "string" ? c : c.header;
}

function path(row: Record<string, unknown>, dotted: string): unknown {
  let v: unknown = row;
  for (const key of dotted.split(".")) v = (v as Record<string, unknown> | undefined)?.[key];
  return v;
}

/** A value in one table cell: scalars as they are, lists joined, small objects as key=value. */
function cell(v: unknown): string {
  if (v === undefined || v === null) return "";
  if (Array.isArray(v)) return v.map(cell).join(", ");
  if (typeof v === "object") {
    return Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `${k}=${cell(x)}`)
      .join(", ");
  }
  return String(v);
}

/** Nested objects as dotted keys (device.code), so an object reads as a list of fields. */
function flatten(value: Record<string, unknown>, prefix = ""): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [];
  for (const [key, v] of Object.entries(value)) {
    const name = prefix + key;
    const isRecord = typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).length > 0;
    // Maps (labels) stay one cell; messages are spread out.
    if (isRecord && key !== "labels" && key !== "details")
      out.push(...flatten(v as Record<string, unknown>, `${name}.`));
    else if (Array.isArray(v) && v.some((x) => typeof x === "object" && x !== null)) {
      v.forEach((x, i) => {
        out.push(...flatten({ [`${name}[${i}]`]: x }));
      });
    } else out.push([name, v]);
  }
  return out;
}
