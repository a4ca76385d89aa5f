/**
 * `npm run load:smoke`: a private stack (PostgreSQL, NATS JetStream,
 * receiver, writer and query as processes; TLS on the receiver and the query
 * port unless `--transport plaintext`), a 20-second k6 smoke of
 * ingest.js and query.js against it, then everything stopped. Exits 0 when
 * every threshold passed, 1 otherwise; the k6 summaries and
 * load-smoke.json go to load-tests/results (or --summary-dir).
 */
import { resolve } from "node:path";
import { ensureTools, repoRoot, scriptArgs } from "@vigil/testkit";
import { findK6 } from "./k6.ts";
import { startLocalStack } from "./local-stack.ts";
import { runSmoke } from "./smoke.ts";

const USAGE = `usage: npm run load:smoke -- [--duration-s 20] [--transport tls|plaintext] [--summary-dir DIR]
  A private stack (PostgreSQL, NATS JetStream, receiver, writer and query as processes) and a k6 smoke of
  ingest.js and query.js against it; exits 0 when every threshold passed, 1 otherwise.
  --duration-s N      length of the k6 runs (default 20)
  --transport MODE    tls (default: the receiver and the query port serve TLS) or plaintext
  --summary-dir DIR   where the k6 summaries and load-smoke.json go (default load-tests/results)
`;
const { values, fail, positiveInt } = scriptArgs("load:smoke", USAGE, {
  "duration-s": { type: "string", default: "20" },
  "summary-dir": { type: "string", default: resolve(repoRoot, "load-tests/results") },
  transport: { type: "string", default: "tls" },
});
const durationS = positiveInt(values["duration-s"], "--duration-s");
if (values.transport !== "tls" && values.transport !== "plaintext") fail("--transport must be tls or plaintext");
// What a fresh clone lacks after `npm ci`, installed as `npm test` does.
ensureTools(["postgresql", "nats-server", "k6"]);
const k6 = findK6();
if (!k6) {
  process.stderr.write("load:smoke: k6 did not install: run scripts/install-tools.sh k6\n");
  process.exit(2);
}
const echo = (line: string) => process.stderr.write(`${line}\n`);
const started = performance.now();
const stack = await startLocalStack({
  devices: 10,
  tls: values.transport === "tls",
  log: (l) => echo(`load:smoke: ${l}`),
});
let ok = false;
try {
  const result = await runSmoke(stack, { k6, durationS, summaryDir: resolve(values["summary-dir"]), echo });
  ok = result.ok;
  process.stdout.write(
    `${JSON.stringify({ ...result.report, seconds: Math.round((performance.now() - started) / 100) / 10 })}\n`,
  );
  if (!ok) echo(`load:smoke: FAILED\n${stack.output()}`);
} finally {
  await stack.stop();
}
process.exit(ok ? 0 : 1);
