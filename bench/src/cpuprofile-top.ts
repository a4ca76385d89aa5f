/**
 * `node bench/src/cpuprofile-top.ts FILE.cpuprofile [--top 25]`: where a
 * Node process spent its CPU, from a `node --cpu-prof` profile (as
 * `npm run bench:streams -- --profile DIR` writes for each receiver):
 * self time by area (project file, npm package, Node internals, GC, idle)
 * and the top functions by self time, as text.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: "string", default: "25" } },
});
if (positionals.length !== 1) {
  process.stderr.write("usage: node bench/src/cpuprofile-top.ts FILE.cpuprofile [--top 25]\n");
  process.exit(2);
}
const profile = JSON.parse(readFileSync(positionals[0]!, "utf8")) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfUs = new Map<number, number>();
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i]!;
  selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
}
const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0);

/** Which part of the process a frame belongs to. */
function area(url: string, name: string): string {
  if (!url) return name.startsWith("(") ? name : "(native)";
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return `npm:${pkg[1]}`;
  const project = /\/((?:services|packages)\/[^/]+|simulator)\/src\//.exec(url);
  if (project) return project[1]!;
  if (url.startsWith("node:")) return `node:${url.slice(5).split("/")[0]}`;
  return url;
}

const areas = new Map<string, number>();
const functions = new Map<string, number>();
for (const [id, us] of selfUs) {
  const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
  const a = area(url, functionName);
  areas.set(a, (areas.get(a) ?? 0) + us);
  const where = url
    ? `${url.replace(/^.*?\/(node_modules|services|packages|simulator)\//, "$1/")}:${lineNumber + 1}`
    : "";
  const key = `${functionName || "(anonymous)"} ${where}`.trim();
  functions.set(key, (functions.get(key) ?? 0) + us);
}

const pct = (us: number) => `${((us / totalUs) * 100).toFixed(1).padStart(5)}%`;
const top = Number(values.top);
const lines = [`${(totalUs / 1e6).toFixed(1)} s sampled`, "", "self time by area:"];
for (const [a, us] of [...areas].sort((x, y) => y[1] - x[1]).slice(0, top)) lines.push(`  ${pct(us)}  ${a}`);
lines.push("", "top functions by self time:");
for (const [f, us] of [...functions].sort((x, y) => y[1] - x[1]).slice(0, top)) lines.push(`  ${pct(us)}  ${f}`);
process.stdout.write(`${lines.join("\n")}\n`);
