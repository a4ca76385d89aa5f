import { STREAM_NAME } from "@vigil/bus";
import pg from "pg";
import {
  getJson,
  helm,
  isReady,
  killContainer,
  kubectl,
  podsOf,
  release,
  sleep,
  until,
  workloadSettled,
} from "./cluster.ts";
import { Fleet, type FleetOptions, type FleetStatus } from "./fleet.ts";

/** What one fault did to one fleet. */
export interface CaseResult {
  /** Acked readings missing from the table after the writers caught up. */
  lost: number;
  /** Rows stored more than once. */
  duplicates: number;
  /** From the fault until the workload was whole again and every device was sending and acked. */
  recoveryS: number;
  /** Readings the fleet saw acked over the case. */
  acked: number;
  /** The longest time no batch of the fleet was acked, around the fault. */
  longestAckGapS: number;
  reconnects: number;
  drains: number;
  /** Seconds the writers needed after the fleet stopped until every acked reading was stored. */
  catchUpS: number;
  [detail: string]: unknown;
}

export interface CaseContext {
  chart: string;
  fleet: Omit<FleetOptions, "code">;
  databaseUrl: string;
  /** Builds a CLI image with one more migration; returns its tag (images.sh overlay). */
  cliWithNewMigration(): Promise<string>;
}

/** What a case's fault step hands back: when it struck, and how to tell it is over. */
interface Fault {
  at: number;
  recovered: () => Promise<boolean>;
  detail?: Record<string, unknown>;
}

interface CaseSpec {
  code: string;
  prepare?: () => Promise<void>;
  fault: (fleet: Fleet) => Promise<Fault>;
  cleanup?: () => Promise<void>;
}

const deployment = (component: string) => `${release}-${component}`;
const settled = (component: string) => workloadSettled("deployment", deployment(component), component);

/**
 * Runs one fault under load: a fresh fleet (its own device code), steady
 * sending, the fault, the wait for recovery, a little more steady sending,
 * then the loss check of everything the fleet saw acked.
 */
async function runCase(name: string, spec: CaseSpec, ctx: CaseContext): Promise<CaseResult> {
  console.error(`[test:k8s] case ${name}`);
  await spec.prepare?.();
  const fleet = await Fleet.start({ ...ctx.fleet, code: spec.code });
  const samples: Array<{ t: number; s: FleetStatus }> = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      try {
        samples.push({ t: performance.now(), s: await fleet.status() });
      } catch {
        // The simulator is local; a missed sample is only a gap in the curve.
      }
      await sleep(250);
    }
  })();
  try {
    const flowing = await fleet.waitUntilFlowing();
    await sleep(3_000);
    const before = await fleet.status();
    const unackedLimit = Math.max(2 * flowing.devices, 2 * before.unacked);
    const fault = await spec.fault(fleet);
    const atFault = samples.filter((x) => x.t <= fault.at).at(-1)?.s ?? before;
    await until(
      `${name}: recovery`,
      async () => {
        if (!(await fault.recovered())) return false;
        const s = await fleet.status();
        return s.connected === s.devices && s.unacked <= unackedLimit && s.acked >= atFault.acked + s.devices;
      },
      300,
    );
    const recoveryS = (performance.now() - fault.at) / 1000;
    console.error(`[test:k8s]   recovered in ${recoveryS.toFixed(1)} s`);
    await sleep(5_000);
    sampling = false;
    await sampler;
    const last = await fleet.status();
    await fleet.stop();
    const loss = await fleet.loss();
    return {
      lost: loss.lost,
      duplicates: loss.duplicates,
      recoveryS: round(recoveryS),
      acked: loss.acked,
      longestAckGapS: round(longestGap(samples)),
      reconnects: last.reconnects - before.reconnects,
      drains: last.drains - before.drains,
      catchUpS: round(loss.catchUpS),
      ...fault.detail,
    };
  } catch (err) {
    throw new Error(`${name}: ${(err as Error).message}\nsimulator output (end):\n${fleet.output().slice(-3000)}`);
  } finally {
    sampling = false;
    await sampler;
    await fleet.stop().catch(() => {});
    await spec.cleanup?.();
  }
}

/** The longest stretch between two samples where the fleet's acked count did not grow. */
export function longestGap(samples: Array<{ t: number; s: { acked: number } }>): number {
  let longest = 0;
  let since = samples[0]?.t ?? 0;
  for (let i = 1; i < samples.length; i++) {
    longest = Math.max(longest, (samples[i]!.t - since) / 1000);
    if (samples[i]!.s.acked > samples[i - 1]!.s.acked) since = samples[i]!.t;
  }
  return longest;
}

const round = (x: number) => Math.round(x * 10) / 10;

// biome-ignore lint/suspicious/noExplicitAny: Kubernetes objects are read field by field
const uidGone = (pods: any[], uid: string) => !pods.some((p) => p.metadata.uid === uid);

/** Force-deletes one ready pod of a component (no grace: as if its node vanished). */
function forceDelete(component: string): CaseSpec["fault"] {
  return async () => {
    // A pod may be briefly unready on a loaded machine (a readiness probe answered after its 1 s
    // timeout): wait for one rather than fail the case.
    // biome-ignore lint/suspicious/noExplicitAny: see getJson
    let victim: any;
    await until(
      `a ready ${component} pod`,
      async () => {
        victim = (await podsOf(component)).find(isReady);
        return victim !== undefined;
      },
      120,
    );
    const at = performance.now();
    await kubectl(["delete", "pod", victim.metadata.name, "--force", "--grace-period=0", "--wait=false"]);
    return {
      at,
      recovered: async () => uidGone(await podsOf(component), victim.metadata.uid) && (await settled(component)),
      detail: { pod: victim.metadata.name },
    };
  };
}

interface StreamCluster {
  leader?: string;
  replicas?: Array<{ name: string; current: boolean }>;
}

/**
 * The readings stream's placement as its leader sees it, from the NATS servers'
 * monitoring endpoints. Only the leader knows whether each follower is current
 * (a follower reports the other follower as not current), so a follower's view
 * is only the answer when no server says it leads.
 */
async function streamCluster(): Promise<StreamCluster> {
  let fallback: StreamCluster = {};
  for (const pod of (await podsOf("nats")).filter(isReady)) {
    try {
      const res = await fetch(`http://${pod.status.podIP}:8222/jsz?streams=true`, {
        signal: AbortSignal.timeout(3_000),
      });
      const jsz = (await res.json()) as {
        account_details?: Array<{ stream_detail?: Array<{ name: string; cluster?: StreamCluster }> }>;
      };
      for (const account of jsz.account_details ?? []) {
        const cluster = account.stream_detail?.find((s) => s.name === STREAM_NAME)?.cluster;
        if (!cluster) continue;
        if (cluster.leader === pod.metadata.name) return cluster;
        if (!fallback.leader) fallback = { leader: cluster.leader };
      }
    } catch {
      // Try the next server.
    }
  }
  return fallback;
}

/** The nats-server container's status in a NATS pod (with TLS on, a tls-reloader runs beside it). */
// biome-ignore lint/suspicious/noExplicitAny: see getJson
function natsContainer(pod: any): { restartCount: number; containerID: string } {
  const status = pod.status.containerStatuses.find((c: { name: string }) => c.name === "nats");
  if (!status) throw new Error(`${pod.metadata.name} has no nats container`);
  return status;
}

/** The stream has a leader and every replica has caught up. */
export async function streamHealthy(replicas: number): Promise<boolean> {
  const c = await streamCluster();
  return Boolean(c.leader) && (c.replicas ?? []).length === replicas - 1 && (c.replicas ?? []).every((r) => r.current);
}

export function buildCases(ctx: CaseContext): Array<[string, () => Promise<CaseResult>]> {
  const upgrade = (sets: string[]) =>
    helm([
      "upgrade",
      release,
      ctx.chart,
      "--reuse-values",
      ...sets.flatMap((s) => ["--set", s]),
      "--wait",
      "--timeout",
      "10m",
    ]);
  let cliTag = "";

  return [
    [
      "receiverPodForceDeleted",
      () => runCase("receiver pod force-deleted", { code: "KRECV", fault: forceDelete("receiver") }, ctx),
    ],
    [
      "writerPodForceDeleted",
      () => runCase("writer pod force-deleted", { code: "KWRIT", fault: forceDelete("writer") }, ctx),
    ],
    [
      "natsPodKilled",
      () =>
        runCase(
          "NATS server killed (the stream's leader, SIGKILL)",
          {
            code: "KNATS",
            fault: async () => {
              const { leader } = await streamCluster();
              if (!leader) throw new Error("the stream has no leader");
              const pod = await getJson(["get", "pod", leader]);
              const restarts = natsContainer(pod).restartCount;
              const at = performance.now();
              await killContainer(natsContainer(pod).containerID);
              return {
                at,
                recovered: async () => {
                  const p = await getJson(["get", "pod", leader]);
                  return natsContainer(p).restartCount > restarts && isReady(p) && (await streamHealthy(3));
                },
                detail: { pod: leader },
              };
            },
          },
          ctx,
        ),
    ],
    [
      "rollingUpgrade",
      () =>
        runCase(
          "rolling upgrade (helm upgrade, receiver and writer settings changed)",
          {
            code: "KROLL",
            fault: async () => {
              const at = performance.now();
              await upgrade([
                "receiver.config.RECEIVER_MAX_IN_FLIGHT_BATCHES=48",
                "writer.config.WRITER_PREFETCH=1500",
              ]);
              const upgradeS = round((performance.now() - at) / 1000);
              return {
                at,
                recovered: async () => (await settled("receiver")) && (await settled("writer")),
                detail: { upgradeS },
              };
            },
          },
          ctx,
        ),
    ],
    [
      "receiversScaled1to3to1",
      () => {
        let only = "";
        return runCase(
          "receivers scaled 1 → 3 → 1",
          {
            code: "KSCAL",
            prepare: async () => {
              await kubectl(["scale", "deployment", deployment("receiver"), "--replicas=1"]);
              await until("one receiver", () => settled("receiver"), 180);
              only = (await podsOf("receiver"))[0].metadata.name;
            },
            fault: async () => {
              const up = performance.now();
              await kubectl(["scale", "deployment", deployment("receiver"), "--replicas=3"]);
              await until("three receivers", () => settled("receiver"), 180);
              const scaleUpS = round((performance.now() - up) / 1000);
              await sleep(3_000);
              // Scale in the receiver that holds every stream (the others are new and empty):
              // the ReplicaSet removes the pods with the lowest deletion cost first.
              await kubectl([
                "annotate",
                "pod",
                only,
                "controller.kubernetes.io/pod-deletion-cost=-1000",
                "--overwrite",
              ]);
              const at = performance.now();
              await kubectl(["scale", "deployment", deployment("receiver"), "--replicas=1"]);
              return {
                at,
                recovered: async () => {
                  const pods = await podsOf("receiver");
                  return !pods.some((p) => p.metadata.name === only) && (await settled("receiver"));
                },
                detail: { scaleUpS, scaledIn: only },
              };
            },
            cleanup: async () => {
              await kubectl(["scale", "deployment", deployment("receiver"), "--replicas=2"]);
              await until("two receivers", () => settled("receiver"), 180);
            },
          },
          ctx,
        );
      },
    ],
    [
      "migrationsHookOnUpgrade",
      () =>
        runCase(
          "upgrade with a new migration (the pre-upgrade hook)",
          {
            code: "KMIGR",
            prepare: async () => {
              cliTag = await ctx.cliWithNewMigration();
            },
            fault: async () => {
              const at = performance.now();
              await upgrade([
                `cli.image.tag=${cliTag}`,
                "receiver.config.RECEIVER_MAX_IN_FLIGHT_BATCHES=32",
                "writer.config.WRITER_PREFETCH=2000",
              ]);
              const upgradeS = round((performance.now() - at) / 1000);
              return {
                at,
                recovered: async () => (await settled("receiver")) && (await settled("writer")),
                detail: { upgradeS, ...(await migrationApplied(ctx.databaseUrl)) },
              };
            },
          },
          ctx,
        ),
    ],
  ];
}

/** The probe migration's name (see main.ts), and whether the hook applied it. */
export const PROBE_MIGRATION = "9999-k8s-upgrade-probe";

async function migrationApplied(databaseUrl: string): Promise<{ migrationApplied: boolean; columnAdded: boolean }> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const m = await client.query("SELECT 1 FROM kysely_migration WHERE name = $1", [PROBE_MIGRATION]);
    const c = await client.query(
      "SELECT 1 FROM information_schema.columns WHERE table_name = 'readings' AND column_name = 'k8s_upgrade_probe'",
    );
    return { migrationApplied: m.rowCount === 1, columnAdded: c.rowCount === 1 };
  } finally {
    await client.end();
  }
}
