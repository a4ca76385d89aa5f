/**
 * `npm run test:k8s`: Vigil on a real single-node Kubernetes cluster built on
 * this machine (scripts/k8s). Brings the cluster up (building what is not
 * cached), builds and loads the images, installs the chart with the bundled
 * NATS (3 servers, JetStream R3), TimescaleDB and the alerters, with TLS on
 * every Vigil port (a certificate from the development CA, scripts/k8s/tls.sh),
 * runs `helm test`, then drives simulated devices through the receiver's
 * Service over TLS while it breaks things, one case at a time:
 *
 *   1. a receiver pod force-deleted   2. a writer pod force-deleted
 *   3. the stream leader's NATS server killed   4. a rolling upgrade
 *   5. receivers scaled 1 → 3 → 1   6. an upgrade whose pre-upgrade hook runs a new migration
 *
 * After each: readings acked but not stored, rows stored twice (the simulator's
 * acked file against the table) and the time to recover. The last line printed
 * is one JSON object with every result and timing; the exit code is 0 only when
 * every case lost nothing and duplicated nothing.
 *
 * Flags: --keep (leave the cluster up even if this run started it),
 *        --cases a,b (a subset, by the names in the JSON), --devices N, --interval-ms MS.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot, scriptArgs } from "@vigil/testkit";
import { buildCases, type CaseResult, PROBE_MIGRATION, streamHealthy } from "./cases.ts";
import {
  cacheDir,
  clusterRunning,
  helm,
  kubectl,
  namespace,
  release,
  run,
  runShown,
  script,
  secretValue,
  serviceAddress,
  stateDir,
  until,
} from "./cluster.ts";
import { addMigration, type Report, readTimings, summarize } from "./report.ts";

const USAGE = `usage: npm run test:k8s -- [--keep] [--cases NAME,…] [--devices 20] [--interval-ms 200]
  Vigil on a single-node Kubernetes cluster built on this machine (root, Debian 12): the chart installed
  with TLS, then devices streaming while pods, NATS and upgrades are broken one case at a time. The last
  line is one JSON object; exit 0 only when no case lost or duplicated a reading.
  --keep            leave the cluster up even if this run started it
  --cases NAME,…    a subset of the cases, by the names in the JSON
  --devices N       simulated devices (default 20)
  --interval-ms MS  time between each device's batches (default 200)
`;
const { values: flags, positiveInt } = scriptArgs("test:k8s", USAGE, {
  keep: { type: "boolean", default: false },
  cases: { type: "string" },
  devices: { type: "string", default: "20" },
  "interval-ms": { type: "string", default: "200" },
});
const devices = positiveInt(flags.devices, "--devices");
const intervalMs = positiveInt(flags["interval-ms"], "--interval-ms");

const chart = join(repoRoot, "charts/vigil");
const started = performance.now();
const elapsed = () => (performance.now() - started) / 1000;
const testDir = join(stateDir, "test");
const timingsFile = join(cacheDir, `timings-${process.pid}.txt`);
const freshFile = join(cacheDir, "fresh-run.json");
const coldCache = !existsSync(join(cacheDir, "bin/.kubernetes.stamp"));
const startedCluster = !clusterRunning();

async function main(): Promise<Report> {
  mkdirSync(cacheDir, { recursive: true });
  writeFileSync(timingsFile, "");
  await runShown(script("up.sh"), [], timingsFile);
  await runShown(script("images.sh"), [], timingsFile);
  mkdirSync(testDir, { recursive: true });

  // A fresh release on empty volumes.
  const t0 = performance.now();
  const namespaces = await kubectl(["get", "namespaces", "-o", "name"]);
  if (namespaces.includes(`namespace/${namespace}`)) {
    await helm(["uninstall", release, "--wait", "--ignore-not-found"]).catch(() => "");
    await kubectl(["delete", "namespace", namespace, "--wait=true"], 300_000);
  }
  await run(script("volumes.sh"), []);
  const cleanupS = (performance.now() - t0) / 1000;

  // The release's certificate (the Secret must exist before the pods that mount it).
  const t4 = performance.now();
  const caFile = (await run(script("tls.sh"), [release, namespace])).trim().split("\n").at(-1)!;
  const tlsSecretS = (performance.now() - t4) / 1000;

  const t1 = performance.now();
  await helm([
    "install",
    release,
    chart,
    "--create-namespace",
    "-f",
    join(chart, "ci/local-cluster-values.yaml"),
    "-f",
    join(stateDir, "images-values.yaml"),
    "--wait",
    "--timeout",
    "15m",
  ]);
  const installS = (performance.now() - t1) / 1000;
  const t2 = performance.now();
  const helmTest = await helm(["test", release, "--logs", "--timeout", "5m"]);
  const helmTestS = (performance.now() - t2) / 1000;
  const toRunningReleaseS = elapsed();
  if (coldCache) writeFileSync(freshFile, JSON.stringify({ seconds: toRunningReleaseS, at: new Date().toISOString() }));
  await until("the stream on three replicas", () => streamHealthy(3), 120);

  const receiver = await serviceAddress(`${release}-receiver`);
  const dbHost = await serviceAddress(`${release}-timescaledb`);
  const url = new URL(await secretValue(`${release}-timescaledb`, "DATABASE_URL"));
  url.hostname = dbHost;
  const databaseUrl = url.toString();

  const cases = buildCases({
    chart,
    databaseUrl,
    fleet: {
      target: `${receiver}:50051`,
      // The certificate names the Service, not its address.
      tls: { caFile, serverName: `${release}-receiver.${namespace}.svc` },
      databaseUrl,
      devices,
      intervalMs,
    },
    cliWithNewMigration: () => cliWithNewMigration(),
  });
  const wanted = flags.cases?.split(",");
  const results: Record<string, CaseResult> = {};
  for (const [name, runIt] of cases) {
    if (wanted && !wanted.includes(name)) continue;
    results[name] = await runIt();
    console.error(`[test:k8s]   ${name}: ${JSON.stringify(results[name])}`);
  }
  const t3 = performance.now();
  await helm(["test", release, "--timeout", "5m"]);
  const helmTestAfterS = (performance.now() - t3) / 1000;

  return summarize({
    results,
    steps: readTimings(readFileSync(timingsFile, "utf8")),
    cleanupS,
    tlsSecretS,
    installS,
    helmTestS,
    helmTestAfterS,
    helmTestPassed: /Phase:\s+Succeeded/.test(helmTest),
    toRunningReleaseS,
    coldCache,
    fresh: existsSync(freshFile) ? JSON.parse(readFileSync(freshFile, "utf8")) : undefined,
    totalS: elapsed(),
  });
}

/**
 * A CLI image with one more migration than this checkout has: the current CLI
 * image with a probe migration (a nullable column on readings, under ingest)
 * added to the static list in migrate.ts. Returns its tag.
 */
async function cliWithNewMigration(): Promise<string> {
  const dir = join(testDir, "cli-overlay");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, "packages/db/src/migrations"), { recursive: true });
  const migrate = readFileSync(join(repoRoot, "packages/db/src/migrate.ts"), "utf8");
  writeFileSync(join(dir, "packages/db/src/migrate.ts"), addMigration(migrate, PROBE_MIGRATION, "k8sUpgradeProbe"));
  writeFileSync(
    join(dir, `packages/db/src/migrations/${PROBE_MIGRATION}.ts`),
    [
      'import { type Kysely, sql } from "kysely";',
      "",
      "/** test:k8s: a migration that only exists in the upgraded release's image. */",
      "// biome-ignore lint/suspicious/noExplicitAny: migrations run beneath any typed schema",
      "export async function up(db: Kysely<any>): Promise<void> {",
      "  await sql`ALTER TABLE readings ADD COLUMN k8s_upgrade_probe smallint`.execute(db);",
      "}",
      "",
    ].join("\n"),
  );
  const values = readFileSync(join(stateDir, "images-values.yaml"), "utf8");
  const tag = /^cli: \{ image: \{ tag: "([^"]+)" \} \}$/m.exec(values)?.[1];
  if (!tag) throw new Error("no cli image tag in .k8s/images-values.yaml");
  const out = await run(script("images.sh"), ["overlay", `localhost/vigil-cli:${tag}`, dir], { timeoutMs: 600_000 });
  return out.trim().split("\n").at(-1)!;
}

let exitCode = 1;
let line: string;
try {
  const report = await main();
  exitCode = report.ok ? 0 : 1;
  line = JSON.stringify(report);
} catch (err) {
  console.error(`[test:k8s] failed: ${(err as Error).stack ?? err}`);
  console.error(`[test:k8s] logs: ${join(stateDir, "logs")}; KUBECONFIG=${join(stateDir, "pki/admin.kubeconfig")}`);
  line = JSON.stringify({ ok: false, error: String((err as Error).message ?? err).slice(0, 2000), totalS: elapsed() });
}
rmSync(timingsFile, { force: true });
if (startedCluster && !flags.keep) {
  console.error("[test:k8s] taking the cluster down (it was not up before this run; --keep leaves it up)");
  await runShown(script("down.sh"), [], "/dev/null").catch((err) => {
    console.error(`[test:k8s] k8s:down failed: ${err}`);
    exitCode = 1;
  });
}
// The last line: one JSON object with every result and timing.
console.log(line);
process.exit(exitCode);
