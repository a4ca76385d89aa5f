/**
 * `node bench/src/heapsnapshot-top.ts FILE.heapsnapshot [--top 30] [--per N]`:
 * what fills a Node heap, from a V8 heap snapshot (as
 * `npm run bench:streams -- --profile DIR` takes of each receiver at its
 * largest step): self size and count by constructor, largest first, and,
 * with --per N (e.g. the number of open streams), bytes and objects per
 * one of N.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: "string", default: "30" }, per: { type: "string" } },
});
if (positionals.length !== 1) {
  process.stderr.write("usage: node bench/src/heapsnapshot-top.ts FILE.heapsnapshot [--top 30] [--per N]\n");
  process.exit(2);
}
const snap = JSON.parse(readFileSync(positionals[0]!, "utf8")) as Snapshot;
const fields = snap.snapshot.meta.node_fields;
const types = snap.snapshot.meta.node_types[0];
const width = fields.length;
const [typeAt, nameAt, sizeAt] = ["type", "name", "self_size"].map((f) => fields.indexOf(f)) as [
  number,
  number,
  number,
];
const groups = new Map<string, { size: number; count: number }>();
let total = 0;
for (let i = 0; i < snap.nodes.length; i += width) {
  const type = types[snap.nodes[i + typeAt]!]!;
  const size = snap.nodes[i + sizeAt]!;
  total += size;
  // Objects by constructor; strings, code, arrays and the like by type.
  const key = type === "object" || type === "native" ? snap.strings[snap.nodes[i + nameAt]!]! : `(${type})`;
  const g = groups.get(key) ?? { size: 0, count: 0 };
  g.size += size;
  g.count++;
  groups.set(key, g);
}
const per = values.per ? Number(values.per) : undefined;
const mib = (b: number) => `${(b / 2 ** 20).toFixed(1).padStart(7)} MiB`;
const lines = [
  `${mib(total)} in ${snap.nodes.length / width} objects${per ? `, ${(total / per).toFixed(0)} B per one of ${per}` : ""}`,
];
for (const [name, g] of [...groups].sort((a, b) => b[1].size - a[1].size).slice(0, Number(values.top))) {
  const each = per
    ? `  ${(g.size / per).toFixed(0).padStart(6)} B and ${(g.count / per).toFixed(1).padStart(5)} per`
    : "";
  lines.push(`${mib(g.size)} ${String(g.count).padStart(9)}${each}  ${name.slice(0, 80)}`);
}
process.stdout.write(`${lines.join("\n")}\n`);
