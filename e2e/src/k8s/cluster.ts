import { execFile, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { repoRoot } from "@vigil/testkit";

const execFileAsync = promisify(execFile);

/** Where scripts/k8s keeps this checkout's cluster, and the machine's cache (see scripts/k8s/lib.sh). */
export const stateDir = process.env.VIGIL_K8S_STATE ?? join(repoRoot, ".k8s");
export const cacheDir =
  process.env.VIGIL_K8S_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "vigil-k8s");
export const kubeconfig = join(stateDir, "pki/admin.kubeconfig");
const kubectlBin = join(cacheDir, "bin/kubectl");
const helmBin = join(repoRoot, ".tools/bin/helm");

export const namespace = "vigil";
export const release = "vigil";

/** Runs a program to completion; throws with its output when it fails. */
export async function run(
  file: string,
  args: string[],
  options: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<string> {
  try {
    const { stdout } = await execFileAsync(file, args, {
      cwd: repoRoot,
      env: { ...process.env, KUBECONFIG: kubeconfig, ...options.env },
      maxBuffer: 64 * 1024 * 1024,
      timeout: options.timeoutMs ?? 120_000,
    });
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${file} ${args.join(" ")} failed: ${e.stderr || e.stdout || e.message}`.slice(0, 4000));
  }
}

/** Runs a script with its output shown (the long steps: up, images), appending step times to `timings`. */
export function runShown(file: string, args: string[], timings: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: repoRoot,
      env: { ...process.env, TIMINGS: timings },
      stdio: ["ignore", "inherit", "inherit"],
    });
    child.once("error", reject);
    child.once("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`${file} ${args.join(" ")} exited ${code}`)),
    );
  });
}

export const kubectl = (args: string[], timeoutMs?: number) =>
  run(kubectlBin, ["--namespace", namespace, ...args], { timeoutMs });
export const helm = (args: string[], timeoutMs = 900_000) =>
  run(helmBin, [...args, "--namespace", namespace], { timeoutMs });
export const script = (name: string) => join(repoRoot, "scripts/k8s", name);

// biome-ignore lint/suspicious/noExplicitAny: Kubernetes objects are read field by field
export async function getJson(args: string[]): Promise<any> {
  return JSON.parse(await kubectl([...args, "-o", "json"]));
}

/** A component's pods of the release (by the chart's component label). */
// biome-ignore lint/suspicious/noExplicitAny: see getJson
export async function podsOf(component: string): Promise<any[]> {
  const list = await getJson([
    "get",
    "pods",
    "-l",
    `app.kubernetes.io/instance=${release},app.kubernetes.io/component=${component}`,
  ]);
  return list.items;
}

// biome-ignore lint/suspicious/noExplicitAny: see getJson
export function isReady(pod: any): boolean {
  return (
    pod.metadata.deletionTimestamp === undefined &&
    pod.status?.phase === "Running" &&
    (pod.status?.conditions ?? []).some(
      (c: { type: string; status: string }) => c.type === "Ready" && c.status === "True",
    )
  );
}

/** True when a Deployment or StatefulSet has all its replicas updated, ready and no extra pods. */
export async function workloadSettled(kind: "deployment" | "statefulset", name: string, component: string) {
  const w = await getJson(["get", kind, name]);
  const want = w.spec.replicas ?? 1;
  const s = w.status ?? {};
  const pods = await podsOf(component);
  return (
    (s.observedGeneration ?? 0) >= w.metadata.generation &&
    (s.readyReplicas ?? 0) === want &&
    (s.updatedReplicas ?? 0) === want &&
    (kind === "statefulset" ? s.currentRevision === s.updateRevision : (s.replicas ?? 0) === want) &&
    pods.length === want &&
    pods.every(isReady)
  );
}

/** A Service's cluster address (reachable from this host through kube-proxy's rules). */
export async function serviceAddress(name: string): Promise<string> {
  const svc = await getJson(["get", "service", name]);
  return svc.spec.clusterIP;
}

export async function secretValue(name: string, key: string): Promise<string> {
  const s = await getJson(["get", "secret", name]);
  return Buffer.from(s.data[key], "base64").toString("utf8");
}

/** Whether this checkout's cluster is running (its API server's pid is alive). */
export function clusterRunning(): boolean {
  const pidFile = join(stateDir, "pids/kube-apiserver");
  if (!existsSync(pidFile)) return false;
  try {
    process.kill(Number(readFileSync(pidFile, "utf8")), 0);
    return true;
  } catch {
    return false;
  }
}

/** Sends a signal to a container through the cluster's containerd (a crash, not a pod deletion). */
export async function killContainer(containerId: string, signal = "SIGKILL"): Promise<void> {
  const id = containerId.replace(/^containerd:\/\//, "");
  await run("ctr", [
    "--address",
    join(stateDir, "run/containerd.sock"),
    "--namespace",
    "k8s.io",
    "tasks",
    "kill",
    "--signal",
    signal,
    id,
  ]);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until check() is true; returns the seconds it took. */
export async function until(what: string, check: () => Promise<boolean>, timeoutS: number): Promise<number> {
  const started = performance.now();
  let last: unknown;
  while (performance.now() - started < timeoutS * 1000) {
    try {
      if (await check()) return (performance.now() - started) / 1000;
    } catch (err) {
      last = err;
    }
    await sleep(500);
  }
  throw new Error(`${what}: not within ${timeoutS} s${last ? ` (last error: ${String(last).slice(0, 500)})` : ""}`);
}
