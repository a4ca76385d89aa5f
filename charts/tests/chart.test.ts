import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "@vigil/testkit";
import { beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import {
  ciValuesFiles,
  find,
  findTool,
  get,
  helm,
  helmBin,
  type Manifest,
  namespace,
  podLabels,
  podSpec,
  render,
  renderError,
  renderUpgrade,
  renderYaml,
  tempFile,
  valuesArgs,
  workloadKinds,
} from "./chart-render.ts";
import { writeKubeconformSchemas } from "./kube-schemas.ts";
import { allowed, type Endpoint } from "./network-flows.ts";

if (!helmBin) {
  console.warn("chart tests skipped: helm is not installed (scripts/install-tools.sh helm; npm test installs it)");
}

const chart = `${repoRoot}/charts/vigil`;
const vigilComponents = ["receiver", "writer", "query", "lifecycle", "alerter", "simulator", "migrations", "test"];
const awsCredentials = new Set(["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"]);

/** Where each ci/ file's archive object store is, when not outside the cluster (AWS S3). */
const objectStores: Record<string, Endpoint> = {
  "archive-s3-values.yaml": { pod: { "app.kubernetes.io/name": "minio" } },
};

/** A container's plain env values by name. */
function envValues(c: { env?: Array<{ name: string; value?: string }> }): Record<string, string | undefined> {
  return Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));
}

// biome-ignore lint/suspicious/noExplicitAny: rendered containers are checked field by field
function containers(m: Manifest): any[] {
  const spec = podSpec(m);
  return [...(spec.initContainers ?? []), ...spec.containers];
}

function component(m: Manifest): string {
  return m.metadata.labels?.["app.kubernetes.io/component"] ?? "";
}

describe.skipIf(!helmBin)("Helm chart charts/vigil", () => {
  describe.each(ciValuesFiles)("with ci/%s", (file) => {
    let manifests: Manifest[];
    beforeAll(() => {
      manifests = render(file);
    });

    it("passes helm lint --strict", () => {
      const r = helm(["lint", "--strict", chart, "--namespace", namespace, ...valuesArgs(file)]);
      expect(r.stderr + r.stdout, r.stdout).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
      expect(r.status).toBe(0);
    });

    it("renders objects that all carry the release's labels and namespace", () => {
      expect(manifests.length).toBeGreaterThan(5);
      for (const m of manifests) {
        expect(m.metadata.labels?.["app.kubernetes.io/instance"], `${m.kind}/${m.metadata.name}`).toBe("rel");
        expect(m.metadata.labels?.["app.kubernetes.io/part-of"]).toBe("vigil");
        expect(m.metadata.namespace, `${m.kind}/${m.metadata.name}`).toBe(namespace);
      }
    });

    it("runs every container non-root, without privilege escalation or capabilities, on a read-only root", () => {
      for (const m of manifests.filter((x) => workloadKinds.has(x.kind))) {
        const pod = podSpec(m);
        for (const c of containers(m)) {
          const where = `${m.kind}/${m.metadata.name}/${c.name}`;
          const sc = c.securityContext ?? {};
          expect(sc.runAsNonRoot ?? pod.securityContext?.runAsNonRoot, where).toBe(true);
          expect(sc.allowPrivilegeEscalation, where).toBe(false);
          expect(sc.readOnlyRootFilesystem, where).toBe(true);
          expect(sc.capabilities?.drop, where).toEqual(["ALL"]);
          expect(sc.privileged, where).not.toBe(true);
          expect(pod.securityContext?.seccompProfile?.type, where).toBe("RuntimeDefault");
          expect(pod.automountServiceAccountToken, where).toBe(false);
        }
      }
    });

    it("gives every container CPU and memory requests and a memory limit", () => {
      for (const m of manifests.filter((x) => workloadKinds.has(x.kind))) {
        for (const c of containers(m)) {
          const where = `${m.kind}/${m.metadata.name}/${c.name}`;
          expect(c.resources?.requests?.cpu, where).toBeDefined();
          expect(c.resources?.requests?.memory, where).toBeDefined();
          expect(c.resources?.limits?.memory, where).toBeDefined();
          expect(c.resources?.limits?.cpu, where).toBeDefined();
        }
      }
    });

    it("probes the receiver over gRPC health (its ops port over HTTPS with TLS), the others over /readyz and /healthz on their ops port", () => {
      const receiver = podSpec(get(manifests, "Deployment", "receiver")).containers[0];
      const tlsOn = receiver.env.find((e: { name: string }) => e.name === "TLS_CERT_FILE").value !== "";
      const scheme = tlsOn ? "HTTPS" : "HTTP";
      if (tlsOn) {
        // Kubernetes' gRPC probes speak no TLS: the ops port answers the same questions over HTTPS.
        for (const probe of ["startupProbe", "readinessProbe"]) {
          expect(receiver[probe]?.httpGet, probe).toEqual({ path: "/readyz", port: "metrics", scheme: "HTTPS" });
        }
        expect(receiver.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "metrics", scheme: "HTTPS" });
      } else {
        for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
          expect(receiver[probe]?.grpc?.port, probe).toBe(50051);
        }
        expect(receiver.readinessProbe.grpc.service).toBe("vigil.ingest.v1.IngestService");
      }
      const query = podSpec(get(manifests, "Deployment", "query")).containers[0];
      expect(query.ports.map((p: { name: string }) => p.name)).toEqual(["http", "metrics"]);
      for (const component of ["query", "writer", "lifecycle"]) {
        const d = find(manifests, "Deployment", component);
        if (!d) continue; // the lifecycle service is off in ci/simulator-values.yaml
        const c = podSpec(d).containers[0];
        expect(c.readinessProbe.httpGet, component).toMatchObject({ path: "/readyz", port: "metrics", scheme });
        expect(c.livenessProbe.httpGet, component).toMatchObject({ path: "/healthz", port: "metrics", scheme });
        const opsPort = c.env.find((e: { name: string }) => e.name === `${component.toUpperCase()}_OPS_PORT`).value;
        expect(c.ports).toContainEqual({ name: "metrics", containerPort: Number(opsPort), protocol: "TCP" });
      }
      for (const sts of manifests.filter((m) => m.kind === "StatefulSet")) {
        const c = podSpec(sts).containers[0];
        expect(c.readinessProbe, sts.metadata.name).toBeDefined();
        expect(c.livenessProbe, sts.metadata.name).toBeDefined();
      }
    });

    it("item 11: serves metrics on every component's ops port only; reflection and API docs are on in dev values alone", () => {
      const dev = file === "dev-values.yaml" || file === "skaffold-dev-values.yaml";
      const query = envValues(podSpec(get(manifests, "Deployment", "query")).containers[0]);
      const receiver = envValues(podSpec(get(manifests, "Deployment", "receiver")).containers[0]);
      expect([query.QUERY_REFLECTION, query.QUERY_API_DOCS, receiver.RECEIVER_REFLECTION]).toEqual(
        dev ? ["true", "true", "true"] : ["false", "false", "false"],
      );
      const monitor = find(manifests, "ServiceMonitor", "metrics");
      if (monitor) expect(monitor.spec.endpoints.map((e: { port: string }) => e.port)).toEqual(["metrics"]);
      const names = (c: string) => get(manifests, "Service", c).spec.ports.map((p: { name: string }) => p.name);
      // metrics.enabled: the query Service offers its metrics port as the receiver's does.
      expect(names("query")).toEqual(names("receiver").includes("metrics") ? ["http", "metrics"] : ["http"]);
    });

    it("runs the lifecycle service as a worker: no Service traffic, /tmp sized for the archive", (ctx) => {
      const d = find(manifests, "Deployment", "lifecycle");
      if (!d) return ctx.skip(); // lifecycle.enabled=false (ci/simulator-values.yaml)
      const pod = podSpec(d);
      const c = pod.containers[0];
      expect(c.args).toBeUndefined(); // the image's entry point: services/lifecycle/src/main.ts
      expect(c.ports?.map((p: { name: string }) => p.name)).toEqual(["metrics"]);
      expect(find(manifests, "HorizontalPodAutoscaler", "lifecycle"), "no autoscaler").toBeUndefined();
      expect(find(manifests, "PodDisruptionBudget", "lifecycle"), "no budget to block drains").toBeUndefined();
      // runService gives a run in progress 25 s after SIGTERM.
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(25);
      // The archive writes its Parquet export and the copy it verifies under os.tmpdir().
      const tmp = c.volumeMounts.find((m: { mountPath: string }) => m.mountPath === "/tmp");
      const volume = pod.volumes.find((v: { name: string }) => v.name === tmp.name);
      const size = volume.emptyDir?.sizeLimit ?? volume.ephemeral?.volumeClaimTemplate.spec.resources.requests.storage;
      expect(String(size)).toMatch(/^[0-9]+Gi$/);
      // Its own ServiceAccount unless the release makes none: a cloud identity for the archive stays with it.
      const sa = manifests.find((m) => m.kind === "ServiceAccount" && m.metadata.name === pod.serviceAccountName);
      if (find(manifests, "ServiceAccount", "serviceaccount")) expect(component(sa!)).toBe("lifecycle");
    });

    it("drains receivers inside the grace period, after a preStop pause, one new pod up before an old one goes", () => {
      const d = get(manifests, "Deployment", "receiver");
      const pod = podSpec(d);
      const env = Object.fromEntries(
        pod.containers[0].env.map((e: { name: string; value?: string }) => [e.name, e.value]),
      );
      const preStop = pod.containers[0].lifecycle.preStop.sleep.seconds;
      expect(preStop).toBeGreaterThan(0);
      const drainS = Number(env.RECEIVER_DRAIN_TIMEOUT_MS) / 1000;
      // runService allows the drain plus 5 s to close NATS and the database.
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(preStop + drainS + 5);
      expect(Number(env.RECEIVER_MAX_CONNECTION_AGE_MS)).toBeGreaterThan(0);
      expect(Number(env.RECEIVER_MAX_CONNECTION_AGE_GRACE_MS)).toBeGreaterThan(0);
      expect(d.spec.strategy.rollingUpdate).toEqual({ maxSurge: 1, maxUnavailable: 0 });
    });

    it("scales receivers and writers on CPU, and leaves their replica count to the autoscaler", () => {
      for (const name of ["receiver", "writer", "query"]) {
        const deployment = get(manifests, "Deployment", name);
        const hpa = find(manifests, "HorizontalPodAutoscaler", name);
        if (find(manifests, "ScaledObject", name)) {
          // KEDA owns the replicas (ci/keda-values.yaml): no HPA of the chart's, no replica count.
          expect(hpa, name).toBeUndefined();
          expect(deployment.spec.replicas, `${name}: replicas belong to KEDA`).toBeUndefined();
          continue;
        }
        if (!hpa) {
          expect(deployment.spec.replicas, name).toBeGreaterThanOrEqual(1);
          continue;
        }
        expect(deployment.spec.replicas, `${name}: replicas belong to the HPA`).toBeUndefined();
        expect(hpa.spec.scaleTargetRef).toEqual({
          apiVersion: "apps/v1",
          kind: "Deployment",
          name: deployment.metadata.name,
        });
        expect(hpa.spec.metrics[0].resource).toMatchObject({ name: "cpu", target: { type: "Utilization" } });
        expect(hpa.spec.minReplicas).toBeLessThanOrEqual(hpa.spec.maxReplicas);
      }
    });

    it("has disruption budgets that select their pods and never block a drain", () => {
      for (const pdb of manifests.filter((m) => m.kind === "PodDisruptionBudget")) {
        const workload = manifests.find(
          (m) => (m.kind === "Deployment" || m.kind === "StatefulSet") && component(m) === component(pdb),
        );
        expect(workload, pdb.metadata.name).toBeDefined();
        const labels = podLabels(workload!);
        for (const [k, v] of Object.entries(pdb.spec.selector.matchLabels)) expect(labels[k]).toBe(v);
        expect(pdb.spec.maxUnavailable).toBeGreaterThanOrEqual(1);
      }
    });

    it("routes every Service to pods that expose its target port", () => {
      for (const svc of manifests.filter((m) => m.kind === "Service")) {
        const pods = manifests.filter(
          (m) =>
            workloadKinds.has(m.kind) &&
            Object.entries(svc.spec.selector).every(([k, v]) => podLabels(m)[k] === v) &&
            m.kind !== "Job" &&
            m.kind !== "Pod",
        );
        expect(pods.length, svc.metadata.name).toBe(1);
        const ports = podSpec(pods[0]!).containers.flatMap((c: { ports?: Array<{ name: string }> }) =>
          (c.ports ?? []).map((p) => p.name),
        );
        for (const p of svc.spec.ports) expect(ports, `${svc.metadata.name}:${p.name}`).toContain(p.targetPort);
      }
    });

    it("keeps secrets out of ConfigMaps and plain env values", () => {
      for (const cm of manifests.filter((m) => m.kind === "ConfigMap")) {
        // The bundled NATS's users name their passwords as the server's environment variables.
        const text = JSON.stringify(cm.data).replaceAll(/password: \$VIGIL_[A-Z]+_PASSWORD/g, "");
        expect(text, cm.metadata.name).not.toMatch(/DATABASE_URL|postgres(ql)?:\/\/|password/i);
      }
      for (const m of manifests.filter((x) => workloadKinds.has(x.kind))) {
        for (const c of containers(m)) {
          for (const e of c.env ?? []) {
            if (e.name === "DATABASE_URL" && e.value === undefined) {
              expect(e.valueFrom?.secretKeyRef?.name, `${m.metadata.name}/${c.name}`).toBeTruthy();
            }
            if (awsCredentials.has(e.name)) {
              expect(e.value, `${m.metadata.name}/${c.name}/${e.name}`).toBeUndefined();
              expect(e.valueFrom?.secretKeyRef?.name, `${m.metadata.name}/${c.name}/${e.name}`).toBeTruthy();
            }
            // A URL with credentials (user:password@) only ever arrives from a Secret.
            expect(String(e.value ?? ""), `${m.metadata.name}/${c.name}/${e.name}`).not.toMatch(
              /:\/\/[^/@\s]+:[^/@\s]+@/,
            );
          }
        }
      }
    });

    it("migrates the schema in a hook before the services start", () => {
      const job = find(manifests, "Job", "migrations");
      if (!job) return; // migrations.enabled=false (ci/minimal-values.yaml): run `vigil migrate` by hand
      const hooks = job.metadata.annotations?.["helm.sh/hook"]?.split(",") ?? [];
      const bundledDatabase = find(manifests, "StatefulSet", "timescaledb") !== undefined;
      if (bundledDatabase) {
        // The bundled database is created with the release: the first migration is an ordinary Job
        // beside the pods (which wait for their tables, not ready), not a post-install hook, which
        // `helm install --wait` would start only after every pod is ready: never.
        expect(hooks).toEqual([]);
        expect(job.metadata.name).toMatch(/-migrations-install$/);
        const policy = find(manifests, "NetworkPolicy", "migrations");
        if (policy) expect(policy.metadata.annotations?.["helm.sh/hook"]).toBeUndefined();
        // Upgrades migrate in the pre-upgrade hook, under the usual name (the install's Job goes).
        const upgrade = renderUpgrade(file);
        const hook = get(upgrade, "Job", "migrations");
        expect(hook.metadata.name).toBe(job.metadata.name.replace(/-install$/, ""));
        expect(hook.metadata.annotations?.["helm.sh/hook"]?.split(",")).toContain("pre-upgrade");
      } else {
        // Pre-install hooks complete before Helm creates the release's other objects.
        expect(hooks).toEqual(["pre-install", "pre-upgrade"]);
      }
      expect(containers(job)[0].args).toEqual(["migrate"]);
      for (const d of manifests.filter((m) => m.kind === "Deployment")) {
        expect(d.metadata.annotations?.["helm.sh/hook"], d.metadata.name).toBeUndefined();
      }
      // What the pre-install hook needs must exist before it: hooks themselves, with lower weights.
      const secretName = containers(job)[0].env.find((e: { name: string }) => e.name === "DATABASE_URL").valueFrom
        .secretKeyRef.name;
      const secret = manifests.find((m) => m.kind === "Secret" && m.metadata.name === secretName);
      if (secret && !bundledDatabase) {
        expect(secret.metadata.annotations?.["helm.sh/hook"]).toContain("pre-install");
        expect(Number(secret.metadata.annotations?.["helm.sh/hook-weight"])).toBeLessThan(
          Number(job.metadata.annotations?.["helm.sh/hook-weight"]),
        );
      }
      const sa = podSpec(job).serviceAccountName;
      const releaseSa = manifests.find((m) => m.kind === "ServiceAccount" && m.metadata.name === sa);
      if (!bundledDatabase)
        expect(releaseSa, "the release's ServiceAccount does not exist before install").toBeUndefined();
    });

    it("tests the deployment with `vigil check` against the receiver's and query's Services", () => {
      const pod = get(manifests, "Pod", "test");
      expect(pod.metadata.annotations?.["helm.sh/hook"]).toBe("test");
      // Kept after it passes (replaced by the next run): `helm test --logs` reads its log, and
      // fails with "pods … not found" when the pod is deleted on success.
      expect(pod.metadata.annotations?.["helm.sh/hook-delete-policy"]).toBe("before-hook-creation");
      const [, , receiver, , query, ...rest] = containers(pod)[0].args;
      const receiverSvc = get(manifests, "Service", "receiver");
      const querySvc = get(manifests, "Service", "query");
      expect(receiver).toBe(`${receiverSvc.metadata.name}:${receiverSvc.spec.ports[0].port}`);
      const tlsOn = rest.length > 0;
      const scheme = tlsOn ? "https" : "http";
      expect(query).toBe(`${scheme}://${querySvc.metadata.name}:${querySvc.spec.ports[0].port}`);
      if (tlsOn) {
        // Over TLS, verifying both certificates against the CA in the release's TLS Secret.
        expect(rest).toEqual(["--ca-file", "/etc/vigil/tls/ca.crt"]);
        expect(containers(pod)[0].volumeMounts).toContainEqual(
          expect.objectContaining({ mountPath: "/etc/vigil/tls" }),
        );
        expect(pod.spec.volumes).toContainEqual(expect.objectContaining({ name: "tls" }));
      }
      expect(containers(pod)[0].args.slice(0, 2)).toEqual(["check", "--receiver"]);
    });

    it("puts every pod of the release under a NetworkPolicy that allows only the architecture's flows", () => {
      const policies = manifests.filter((m) => m.kind === "NetworkPolicy");
      if (policies.length === 0) return; // networkPolicy.enabled=false (ci/minimal-values.yaml)
      const pods = new Map<string, Endpoint>();
      for (const m of manifests.filter((x) => workloadKinds.has(x.kind))) pods.set(component(m), { pod: podLabels(m) });
      for (const [name, end] of pods) {
        const selected = policies.some((p) =>
          Object.entries(p.spec.podSelector.matchLabels).every(([k, v]) => "pod" in end && end.pod[k] === v),
        );
        expect(selected, `${name} has a NetworkPolicy`).toBe(true);
      }
      const outside: Endpoint = { external: true };
      const pod = (c: string) => pods.get(c);
      const dns: Endpoint = { pod: { "k8s-app": "kube-dns" } };
      const bundledDb = pod("timescaledb");
      const bundledNats = pod("nats");
      const db = bundledDb ?? outside;
      const nats = bundledNats ?? outside;
      const dbPort = 5432;
      const flow = (from: Endpoint | undefined, to: Endpoint | undefined, port: number) =>
        from && to ? allowed(policies, from, to, port) : undefined;

      // The architecture, allowed.
      expect(flow(pod("receiver"), nats, 4222), "receiver → NATS").not.toBe(false);
      expect(flow(pod("writer"), nats, 4222), "writer → NATS").not.toBe(false);
      expect(flow(pod("query"), nats, 4222), "query → NATS (live tail, replays, device events)").not.toBe(false);
      for (const c of ["receiver", "writer", "query", "migrations"]) {
        expect(flow(pod(c), db, dbPort), `${c} → database`).not.toBe(false);
      }
      expect(flow(pod("simulator"), pod("receiver"), 50051), "simulator → receiver").not.toBe(false);
      const lifecycle = pod("lifecycle");
      if (lifecycle) {
        expect(flow(lifecycle, db, dbPort), "lifecycle → database").toBe(true);
        const env = envValues(podSpec(get(manifests, "Deployment", "lifecycle")).containers[0]);
        const store = objectStores[file] ?? outside;
        if (env.ARCHIVE_URL?.startsWith("s3://")) {
          const endpoint = env.ARCHIVE_S3_ENDPOINT ? new URL(env.ARCHIVE_S3_ENDPOINT) : undefined;
          const port = Number(endpoint?.port || (endpoint?.protocol === "http:" ? 80 : 443));
          expect(flow(lifecycle, store, port), "lifecycle → object store").toBe(true);
          expect(flow(lifecycle, store, dbPort + 1), "lifecycle → object store, another port").toBe(false);
        } else {
          expect(flow(lifecycle, outside, 443), "lifecycle → anywhere, without an S3 archive").toBe(false);
        }
        // Not the cluster's own pods on the object store's port (the API server, webhooks, other apps).
        expect(flow(lifecycle, pod("query"), 443), "lifecycle → in-cluster pods on 443").toBe(false);
        expect(flow(lifecycle, nats, 4222), "lifecycle → NATS").toBe(false);
        expect(flow(lifecycle, pod("receiver"), 50051), "lifecycle → receiver").toBe(false);
        for (const from of [outside, pod("query"), pod("receiver"), pod("writer")]) {
          expect(flow(from, lifecycle, 8080), "nothing → lifecycle").toBe(false);
          expect(flow(from, lifecycle, 443), "nothing → lifecycle").toBe(false);
        }
        if (pod("otel-collector")) expect(flow(lifecycle, pod("otel-collector"), 4318), "lifecycle → OTLP").toBe(true);
      }
      const alerter = pod("alerter");
      if (alerter) {
        expect(flow(alerter, nats, 4222), "alerter → NATS (its feed)").not.toBe(false);
        expect(flow(alerter, db, dbPort), "alerter → database").not.toBe(false);
        // Webhooks to the internet, never to the cluster's own pods (SSRF) or other ports.
        expect(flow(alerter, outside, 443), "alerter → webhooks").toBe(true);
        expect(flow(alerter, pod("query"), 443), "alerter → in-cluster pods on 443").toBe(false);
        expect(flow(alerter, pod("receiver"), 50051), "alerter → receiver").toBe(false);
        expect(flow(alerter, outside, 22), "alerter → anywhere on another port").toBe(false);
        for (const from of [outside, pod("query"), pod("receiver"), pod("writer")]) {
          expect(flow(from, alerter, 8080), "nothing → alerter").toBe(false);
        }
      }
      expect(flow(pod("test"), pod("receiver"), 50051), "helm test → receiver").toBe(true);
      expect(flow(pod("test"), pod("query"), 8080), "helm test → query").toBe(true);
      for (const c of vigilComponents) expect(flow(pod(c), dns, 53), `${c} → DNS`).not.toBe(false);
      if (bundledNats) expect(flow(bundledNats, bundledNats, 6222), "NATS cluster routes").toBe(true);

      // And nothing else.
      expect(flow(pod("query"), pod("receiver"), 50051), "query → receiver").toBe(false);
      expect(flow(pod("receiver"), pod("query"), 8080), "receiver → query").toBe(false);
      expect(flow(pod("writer"), pod("receiver"), 50051), "writer → receiver").toBe(false);
      expect(flow(pod("migrations"), nats, 4222), "migrations → NATS").not.toBe(true);
      expect(flow(pod("test"), db, dbPort), "helm test → database").not.toBe(true);
      expect(flow(pod("simulator"), nats, 4222), "simulator → NATS").not.toBe(true);
      expect(flow(outside, pod("writer"), 4222), "anyone → writer").toBe(false);
      if (bundledDb) {
        expect(flow(outside, bundledDb, 5432), "outside → bundled database").toBe(false);
        expect(flow(pod("test"), bundledDb, 5432), "helm test → bundled database").toBe(false);
        expect(flow(bundledNats, bundledDb, 5432), "NATS → database").not.toBe(true);
      }
      if (bundledNats) {
        expect(flow(outside, bundledNats, 4222), "outside → bundled NATS").toBe(false);
        expect(flow(pod("query"), bundledNats, 4222), "query → bundled NATS").toBe(true);
      }
    });

    it("prints NOTES that name the release's Services and `helm test`", () => {
      // helm template does not print NOTES.txt: render it through a copy with a template that includes it.
      const copy = mkdtempSync(join(tmpdir(), "vigil-notes-"));
      let r: ReturnType<typeof helm>;
      try {
        cpSync(chart, copy, { recursive: true });
        writeFileSync(
          join(copy, "templates/zz-notes.yaml"),
          'notes: |\n{{ include "vigil/templates/NOTES.txt" . | indent 2 }}\n',
        );
        r = helm(["template", "rel", copy, "--namespace", namespace, ...valuesArgs(file)]);
      } finally {
        rmSync(copy, { recursive: true, force: true });
      }
      expect(r.stderr).toBe("");
      const notes = String(
        parseAllDocuments(r.stdout)
          .find((d) => d.toJS()?.notes)
          ?.toJS().notes ?? "",
      );
      expect(notes).toContain(get(manifests, "Service", "receiver").metadata.name);
      expect(notes).toContain("helm test rel -n vigil");
      // The API needs a token: the curl lines sign in first and send it; the CLI signs in over the API
      // (no pod borrowing the database's network access).
      expect(notes).toMatch(/TOKEN=\$\(curl -s -X POST \S+\/vigil\.auth\.v1\.AuthService\/Login/);
      expect(notes).toMatch(/ListReadings -H "authorization: Bearer \$TOKEN"/);
      expect(notes).toContain("npx vigil login --server");
      expect(notes).not.toContain("run vigil-cli");

      // The lifecycle service: where its runs are logged, and what an unset archive means for retention.
      const lifecycle = find(manifests, "Deployment", "lifecycle");
      if (!lifecycle) {
        expect(notes).toMatch(/lifecycle.enabled=false: .* neither archived nor dropped/s);
        return;
      }
      expect(notes).toContain(`logs deploy/${lifecycle.metadata.name}`);
      const env = envValues(podSpec(lifecycle).containers[0]);
      if (!env.ARCHIVE_URL) {
        expect(notes).toMatch(/ARCHIVE_URL is not set, so nothing is archived and NOTHING IS DROPPED/);
        expect(notes).not.toContain("vigil-archive-list");
        return;
      }
      // `vigil archive list` in a pod with the lifecycle service's identity, network access and settings.
      const listPod = JSON.parse(notes.match(/run vigil-archive-list .*\n\s*--overrides='(.*)'/)![1]!);
      expect(listPod.metadata.labels).toEqual(lifecycle.spec.selector.matchLabels);
      expect(listPod.spec.serviceAccountName).toBe(podSpec(lifecycle).serviceAccountName);
      const cli = listPod.spec.containers[0];
      expect(cli.args).toEqual(["archive", "list"]);
      expect(cli.securityContext.readOnlyRootFilesystem).toBe(true);
      const listEnv = envValues(cli);
      for (const k of ["ARCHIVE_URL", "ARCHIVE_S3_ENDPOINT", "ARCHIVE_S3_REGION", "ARCHIVE_S3_FORCE_PATH_STYLE"]) {
        expect(listEnv[k], k).toBe(env[k]);
      }
      const secretRefs = (c: { env: Array<{ name: string; valueFrom?: unknown }> }) =>
        c.env.filter((e) => e.valueFrom).map((e) => [e.name, e.valueFrom]);
      expect(secretRefs(cli)).toEqual(secretRefs(podSpec(lifecycle).containers[0]));
    });

    it("validates against the Kubernetes 1.37 API and the ServiceMonitor, PrometheusRule and ScaledObject CRDs with kubeconform", (ctx) => {
      const kubeconform = findTool("kubeconform");
      const schemas = join(repoRoot, ".tools/kube-schemas");
      if (!kubeconform || !existsSync(join(schemas, "kubernetes-swagger.json"))) {
        console.warn("kubeconform check skipped: run scripts/install-tools.sh kubeconform kube-schemas");
        ctx.skip();
        return;
      }
      const version = readFileSync(join(schemas, "kubernetes-version"), "utf8").trim();
      const location = writeKubeconformSchemas(
        {
          swaggerFile: join(schemas, "kubernetes-swagger.json"),
          crdFiles: [
            join(schemas, "monitoring.coreos.com_servicemonitors.yaml"),
            join(schemas, "monitoring.coreos.com_prometheusrules.yaml"),
            join(schemas, "keda.sh_scaledobjects.yaml"),
          ],
        },
        manifests,
        mkdtempSync(join(tmpdir(), "vigil-kube-schemas-")),
      );
      const rendered = tempFile("rendered.yaml", renderYaml(file));
      // cert-manager's Certificate (tls.certManager) has no schema among .tools/kube-schemas yet:
      // skipped by name, and counted, so nothing else can be skipped unnoticed.
      const certificates = manifests.filter((m) => m.kind === "Certificate").length;
      const r = spawnSync(
        kubeconform,
        [
          "-strict",
          "-summary",
          "-skip",
          "Certificate",
          "-kubernetes-version",
          version,
          "-schema-location",
          location,
          rendered,
        ],
        { encoding: "utf8" },
      );
      expect(r.stdout + r.stderr, r.stdout).toMatch(new RegExp(`Invalid: 0, Errors: 0, Skipped: ${certificates}\\b`));
      expect(r.status).toBe(0);
    });
  });

  describe("values", () => {
    const base = { "database.existingSecret": "db", "tls.existingSecret": "tls" };

    it("rejects a misspelled key, an unknown key, a wrong type and an out-of-range setting", () => {
      expect(renderError(undefined, { ...base, "receiver.replicaCont": "3" })).toMatch(
        /additional properties 'replicaCont' not allowed/,
      );
      expect(renderError(undefined, { ...base, "recever.replicaCount": "3" })).toMatch(/'recever' not allowed/);
      expect(renderError(undefined, { ...base, "receiver.config.RECEIVER_MAX_BATCH_READING": "5" })).toMatch(
        /RECEIVER_MAX_BATCH_READING/,
      );
      expect(renderError(undefined, { ...base, "receiver.replicaCount": "many" })).toMatch(/replicaCount/);
      expect(renderError(undefined, { ...base, "receiver.config.RECEIVER_MAX_BATCH_READINGS": "0" })).toMatch(
        /RECEIVER_MAX_BATCH_READINGS.*minimum|minimum.*RECEIVER_MAX_BATCH_READINGS|must be >= 1/s,
      );
      expect(renderError(undefined, { ...base, logLevel: "verbose" })).toMatch(/logLevel/);
      expect(renderError(undefined, { ...base, "receiver.resources.limits": "null" })).toMatch(/limits|resources/);
    });

    it("turns TLS on by default and refuses it without a certificate, saying where to get one", () => {
      expect(renderError(undefined, { "database.existingSecret": "db" })).toMatch(
        /TLS is on \(tls.enabled\) but has no certificate: set tls.existingSecret/,
      );
      expect(
        renderError(undefined, { ...base, "tls.certManager.enabled": "true", "tls.certManager.issuerRef.name": "ca" }),
      ).toMatch(/only one of tls.existingSecret and tls.certManager.enabled/);
      // cert-manager: a Certificate for every in-cluster name of the receiver and the query service.
      const managed = render(undefined, {
        "database.existingSecret": "db",
        "tls.certManager.enabled": "true",
        "tls.certManager.issuerRef.name": "vigil-ca",
        "tls.certManager.dnsNames[0]": "ingest.example.com",
      });
      const cert = get(managed, "Certificate", "tls");
      expect(cert.spec.secretName).toBe(cert.metadata.name);
      expect(cert.spec.dnsNames).toEqual(
        expect.arrayContaining([
          get(managed, "Service", "receiver").metadata.name,
          `${get(managed, "Service", "query").metadata.name}.vigil.svc.cluster.local`,
          "ingest.example.com",
        ]),
      );
      // Every Vigil container reads the Secret's files; plaintext is not allowed.
      for (const component of ["receiver", "writer", "query", "lifecycle"]) {
        const pod = podSpec(get(managed, "Deployment", component));
        const env = Object.fromEntries(
          pod.containers[0].env.map((e: { name: string; value?: string }) => [e.name, e.value]),
        );
        expect(env, component).toMatchObject({
          TLS_CERT_FILE: "/etc/vigil/tls/tls.crt",
          TLS_KEY_FILE: "/etc/vigil/tls/tls.key",
          ALLOW_PLAINTEXT: "false",
        });
        expect(pod.volumes, component).toContainEqual({
          name: "tls",
          secret: { secretName: cert.metadata.name, defaultMode: 0o440 },
        });
      }
      // Off: plaintext allowed, said so explicitly.
      const off = render(undefined, { "database.existingSecret": "db", "tls.enabled": "false" });
      const receiverEnv = podSpec(get(off, "Deployment", "receiver")).containers[0].env;
      expect(receiverEnv).toContainEqual({ name: "ALLOW_PLAINTEXT", value: "true" });
      expect(receiverEnv).toContainEqual({ name: "TLS_CERT_FILE", value: "" });
    });

    it("gives each component its own database role's Secret, and the migrations every role's password", () => {
      const m = render(undefined, {
        ...base,
        "database.componentSecrets.receiver": "db-receiver",
        "database.componentSecrets.writer": "db-writer",
        "database.tls.caSecret": "db-ca",
      });
      const url = (component: string) =>
        podSpec(get(m, "Deployment", component)).containers[0].env.find(
          (e: { name: string }) => e.name === "DATABASE_URL",
        ).valueFrom.secretKeyRef.name;
      expect(url("receiver")).toBe("db-receiver");
      expect(url("writer")).toBe("db-writer");
      expect(url("query")).toBe("db"); // no Secret of its own: the shared one
      const job = podSpec(get(m, "Job", "migrations")).containers[0];
      expect(job.env).toContainEqual({
        name: "DATABASE_ROLE_PASSWORD_RECEIVER",
        valueFrom: { secretKeyRef: { name: "db-receiver", key: "password" } },
      });
      expect(job.env.map((e: { name: string }) => e.name)).not.toContain("DATABASE_ROLE_PASSWORD_QUERY");
      // The database's CA is mounted where sslrootcert= in the URL names it.
      for (const pod of [podSpec(get(m, "Deployment", "receiver")), podSpec(get(m, "Job", "migrations"))]) {
        expect(pod.containers[0].volumeMounts).toContainEqual({
          name: "db-ca",
          mountPath: "/etc/vigil/db-ca",
          readOnly: true,
        });
      }
    });

    it("refuses combinations that cannot work, saying what to do", () => {
      expect(renderError()).toMatch(/no database: set database.existingSecret/);
      expect(renderError(undefined, { ...base, "timescaledb.enabled": "true" })).toMatch(/more than one database/);
      expect(renderError(undefined, { ...base, "receiver.config.RECEIVER_DRAIN_TIMEOUT_MS": "60000" })).toMatch(
        /receiver.terminationGracePeriodSeconds \(45\) must exceed .* = 70/,
      );
      expect(
        renderError(undefined, {
          ...base,
          "receiver.config.RECEIVER_DRAIN_TIMEOUT_MS": "60000",
          "receiver.terminationGracePeriodSeconds": "120",
        }),
      ).toMatch(/receiver.probes.liveness .* must outlast .* = 65 s/);
      expect(renderError(undefined, { ...base, "query.terminationGracePeriodSeconds": "5" })).toMatch(
        /query.terminationGracePeriodSeconds/,
      );
      expect(renderError(undefined, { ...base, "natsCluster.enabled": "true", "natsCluster.replicas": "1" })).toMatch(
        /NATS_STREAM_REPLICAS \(3\) exceeds natsCluster.replicas \(1\)/,
      );
      expect(renderError(undefined, { ...base, "natsCluster.replicas": "2" })).toMatch(/replicas/);
    });

    it("refuses a JetStream store that cannot hold the stream or does not fit its volume, reading sizes as NATS does", () => {
      const nats = { ...base, "natsCluster.enabled": "true" };
      // NATS reads G as 10^9 bytes: 1G is less than the stream's 1 GiB bound, and every
      // server must hold a full replica (receivers, writers and query fail at start otherwise).
      expect(renderError(undefined, { ...nats, "natsCluster.jetstream.maxFileStore": "1G" })).toMatch(
        /maxFileStore \(1G = 1000000000 bytes\) is smaller than jetstream.config.NATS_STREAM_MAX_BYTES \(1073741824\).*use at least 1Gi/,
      );
      expect(
        renderError(undefined, {
          ...nats,
          "natsCluster.jetstream.maxFileStore": "1536M",
          "jetstream.config.NATS_STREAM_MAX_BYTES": String(2 * 1024 ** 3),
        }),
      ).toMatch(/\(1536M = 1536000000 bytes\) is smaller than .*\(2147483648\).*use at least 2Gi/);
      // Gi and GB are powers of 1024 (in any case); an unbounded stream is not checked.
      for (const size of ["1Gi", "1GB", "1gib"]) {
        const conf = get(
          render(undefined, { ...nats, "natsCluster.jetstream.maxFileStore": size }),
          "ConfigMap",
          "nats",
        );
        expect(conf.data?.["nats.conf"]).toContain(`max_file_store: ${size}`);
      }
      expect(
        renderError(undefined, {
          ...nats,
          "natsCluster.jetstream.maxFileStore": "1G",
          "jetstream.config.NATS_STREAM_MAX_BYTES": "-1",
        }),
      ).toBe("");
      expect(renderError(undefined, { ...nats, "natsCluster.jetstream.maxFileStore": "11G" })).toMatch(
        /maxFileStore \(11G = 11000000000 bytes\) exceeds the volume, natsCluster.jetstream.storageSize \(10Gi = 10737418240 bytes\)/,
      );
      expect(
        renderError(undefined, {
          ...nats,
          "natsCluster.jetstream.maxFileStore": "1536Mi",
          "natsCluster.jetstream.storageSize": "1.5Gi",
        }),
      ).toBe("");
      expect(renderError(undefined, { ...nats, "natsCluster.jetstream.maxFileStore": "8Gb2" })).toMatch(/maxFileStore/);
      // Without the bundled NATS the chart cannot know the servers' stores.
      expect(renderError(undefined, { ...base, "natsCluster.jetstream.maxFileStore": "1G" })).toBe("");
    });

    it("refuses the values key of chart 0.1, maintainer, saying how to move it to lifecycle", () => {
      expect(renderError(undefined, { ...base, "maintainer.config.MAINTAINER_INTERVAL_MS": "60000" })).toMatch(
        /maintainer.\* was renamed lifecycle.\* in chart 0.2.0: move those values under lifecycle, and rename MAINTAINER_INTERVAL_MS/,
      );
    });

    it("refuses lifecycle settings the lifecycle service would refuse at start, or that would lose the archive", () => {
      expect(renderError(undefined, { ...base, "lifecycle.config.AGGREGATES_1H_RETENTION_MS": "86400000" })).toMatch(
        /lifecycle.config.AGGREGATES_1H_RETENTION_MS \(86400000\) must be at least readings.config.READINGS_RETENTION_MS/,
      );
      // Raising retention alone runs into the aggregates' default of 730 days.
      expect(
        renderError(undefined, { ...base, "readings.config.READINGS_RETENTION_MS": String(800 * 86_400_000) }),
      ).toMatch(/AGGREGATES_1M_RETENTION_MS .* must be at least/);
      expect(renderError(undefined, { ...base, "lifecycle.config.ARCHIVE_URL": "gs://bucket" })).toMatch(
        /ARCHIVE_URL must be s3:\/\/bucket\[\/prefix\] or file:<dir>/,
      );
      expect(renderError(undefined, { ...base, "lifecycle.config.ARCHIVE_URL": "file:/tmp/archive" })).toMatch(
        /needs lifecycle.archive.existingClaim/,
      );
      expect(
        renderError(undefined, {
          ...base,
          "lifecycle.config.ARCHIVE_URL": "file:/tmp/archive",
          "lifecycle.archive.existingClaim": "vigil-archive",
        }),
      ).toMatch(/is not on the archive volume: use file:\/archive/);
      expect(renderError(undefined, { ...base, "lifecycle.config.ARCHIVE_S3_ENDPOINT": "minio:9000" })).toMatch(
        /ARCHIVE_S3_ENDPOINT must be an http\(s\):\/\/host\[:port\] URL/,
      );
      expect(renderError(undefined, { ...base, "lifecycle.config.LIFECYCLE_INTERVAL_MS": "999" })).toMatch(
        /LIFECYCLE_INTERVAL_MS/,
      );
      expect(renderError(undefined, { ...base, "lifecycle.scratch.type": "hostPath" })).toMatch(/scratch/);
    });

    it("archives to a directory only on a PersistentVolumeClaim, and lets go of it before a new pod starts", () => {
      const manifests = render(undefined, {
        ...base,
        "lifecycle.config.ARCHIVE_URL": "file:///archive/vigil",
        "lifecycle.archive.existingClaim": "vigil-archive",
      });
      const d = get(manifests, "Deployment", "lifecycle");
      const pod = podSpec(d);
      expect(pod.containers[0].volumeMounts).toContainEqual({ name: "archive", mountPath: "/archive" });
      expect(pod.volumes).toContainEqual({ name: "archive", persistentVolumeClaim: { claimName: "vigil-archive" } });
      expect(d.spec.strategy).toEqual({ type: "Recreate" });
      // No object store to reach: no egress beyond DNS and the database.
      const policy = get(manifests, "NetworkPolicy", "lifecycle");
      expect(policy.spec.egress.map((r: { ports: Array<{ port: number }> }) => r.ports[0]!.port)).toEqual([53, 5432]);
    });

    it("gives S3 credentials to the lifecycle service alone: keys from a Secret, or a cloud identity on its own ServiceAccount", () => {
      const keys = render(undefined, {
        ...base,
        "lifecycle.config.ARCHIVE_URL": "s3://bucket/vigil",
        "lifecycle.archive.credentialsSecret": "vigil-s3",
        "lifecycle.archive.sessionTokenKey": "",
      });
      const env = podSpec(get(keys, "Deployment", "lifecycle")).containers[0].env;
      expect(env.filter((e: { name: string }) => e.name.startsWith("AWS_"))).toEqual([
        { name: "AWS_ACCESS_KEY_ID", valueFrom: { secretKeyRef: { name: "vigil-s3", key: "AWS_ACCESS_KEY_ID" } } },
        {
          name: "AWS_SECRET_ACCESS_KEY",
          valueFrom: { secretKeyRef: { name: "vigil-s3", key: "AWS_SECRET_ACCESS_KEY" } },
        },
      ]);
      for (const c of ["receiver", "writer", "query"]) {
        const other = podSpec(get(keys, "Deployment", c)).containers[0].env;
        expect(
          other.some((e: { name: string }) => e.name.startsWith("AWS_")),
          c,
        ).toBe(false);
      }
      const irsa = render("production-values.yaml");
      const pod = podSpec(get(irsa, "Deployment", "lifecycle"));
      const sa = irsa.find((m) => m.kind === "ServiceAccount" && m.metadata.name === pod.serviceAccountName)!;
      expect(sa.metadata.annotations?.["eks.amazonaws.com/role-arn"]).toMatch(/^arn:aws:iam::/);
      expect(podSpec(get(irsa, "Deployment", "writer")).serviceAccountName).not.toBe(pod.serviceAccountName);
      // The webhook mounts its own audience-bound token; the Kubernetes API token stays out.
      expect(pod.automountServiceAccountToken).toBe(false);
    });

    it("keeps every other pod of the release away from the object store", () => {
      const manifests = render("archive-s3-values.yaml");
      const policies = manifests.filter((m) => m.kind === "NetworkPolicy");
      const store: Endpoint = { pod: { "app.kubernetes.io/name": "minio" } };
      for (const c of ["receiver", "writer", "query", "migrations"]) {
        const from = { pod: podLabels(manifests.find((m) => workloadKinds.has(m.kind) && component(m) === c)!) };
        expect(allowed(policies, from, store, 9000), `${c} → object store`).toBe(false);
      }
    });

    it("signs access tokens with one key for every query replica: made once by a hook Job, or the operator's", () => {
      const own = render(undefined, base);
      // Nothing secret is generated while rendering: the key is made in the cluster, once.
      expect(own.some((m) => m.kind === "Secret" && m.metadata.name.endsWith("jwt-keys"))).toBe(false);
      const job = get(own, "Job", "jwt-keys");
      const hooks = job.metadata.annotations?.["helm.sh/hook"]?.split(",");
      expect(hooks).toEqual(["pre-install", "pre-upgrade"]);
      const name = job.metadata.name;
      expect(containers(job)[0].args.slice(0, 4)).toEqual(["jwt-keys", "ensure-secret", "--secret", name]);
      const keyRef = (manifests: Manifest[]) =>
        podSpec(get(manifests, "Deployment", "query")).containers[0].env.find(
          (e: { name: string }) => e.name === "AUTH_JWT_KEYS",
        ).valueFrom.secretKeyRef;
      expect(keyRef(own)).toEqual({ name, key: "AUTH_JWT_KEYS" });
      // Its own ServiceAccount and a Role that reads only that Secret and creates Secrets: nothing else.
      expect(podSpec(job).serviceAccountName).toBe(name);
      const role = get(own, "Role", "jwt-keys") as unknown as { rules: unknown };
      expect(role.rules).toEqual([
        { apiGroups: [""], resources: ["secrets"], resourceNames: [name], verbs: ["get"] },
        { apiGroups: [""], resources: ["secrets"], verbs: ["create"] },
      ]);
      const binding = get(own, "RoleBinding", "jwt-keys") as unknown as {
        roleRef: { name: string };
        subjects: Array<{ name: string }>;
      };
      expect(binding.roleRef.name).toBe(name);
      expect(binding.subjects.map((x) => x.name)).toEqual([name]);
      // Everything the Job needs exists before it runs: hooks with lower weights.
      const weight = (m: Manifest) => Number(m.metadata.annotations?.["helm.sh/hook-weight"]);
      for (const kind of ["ServiceAccount", "Role", "RoleBinding", "NetworkPolicy"]) {
        const m = get(own, kind, "jwt-keys");
        expect(m.metadata.annotations?.["helm.sh/hook"], kind).toBe("pre-install,pre-upgrade");
        expect(weight(m), kind).toBeLessThan(weight(job));
      }
      // A short-lived token of its own, mounted explicitly; the API server is all it may reach.
      expect(podSpec(job).automountServiceAccountToken).toBe(false);
      const projected = podSpec(job).volumes.find((v: { name: string }) => v.name === "kube-api-access").projected;
      expect(projected.sources[0].serviceAccountToken.expirationSeconds).toBe(600);
      const policy = get(own, "NetworkPolicy", "jwt-keys");
      expect(policy.spec.ingress).toEqual([]);
      expect(policy.spec.egress).toEqual([
        {
          ports: [
            { port: 443, protocol: "TCP" },
            { port: 6443, protocol: "TCP" },
          ],
        },
      ]);

      const theirs = render(undefined, {
        ...base,
        "query.auth.jwtKeysSecret": "vigil-signing",
        "query.auth.jwtKeysSecretKey": "jwks",
      });
      expect(find(theirs, "Job", "jwt-keys")).toBeUndefined();
      expect(keyRef(theirs)).toEqual({ name: "vigil-signing", key: "jwks" });
    });

    it("takes extension points per component: extra env, volumes and mounts, pod and common annotations", () => {
      // A CA for sslmode=verify-full, mounted from a Secret into every pod that opens the database.
      const components = ["receiver", "writer", "query", "lifecycle", "alerter", "simulator", "migrations"];
      const set: Record<string, string> = { ...base, "simulator.enabled": "true", "commonAnnotations.team": "ops" };
      for (const c of components) {
        Object.assign(set, {
          [`${c}.extraEnv[0].name`]: "PGSSLROOTCERT",
          [`${c}.extraEnv[0].value`]: "/etc/vigil/db-ca/ca.crt",
          [`${c}.extraVolumes[0].name`]: "db-ca",
          [`${c}.extraVolumes[0].secret.secretName`]: "db-ca",
          [`${c}.extraVolumeMounts[0].name`]: "db-ca",
          [`${c}.extraVolumeMounts[0].mountPath`]: "/etc/vigil/db-ca",
          [`${c}.podAnnotations.who`]: c,
        });
      }
      const manifests = render(undefined, set);
      for (const c of components) {
        const workload = get(manifests, c === "migrations" ? "Job" : "Deployment", c);
        const container = podSpec(workload).containers[0];
        expect(envValues(container).PGSSLROOTCERT, c).toBe("/etc/vigil/db-ca/ca.crt");
        expect(container.volumeMounts, c).toContainEqual({ name: "db-ca", mountPath: "/etc/vigil/db-ca" });
        expect(podSpec(workload).volumes, c).toContainEqual({ name: "db-ca", secret: { secretName: "db-ca" } });
        expect(workload.spec.template.metadata.annotations?.who, c).toBe(c);
        // The chart's own settings stay: the extras come after them.
        expect(envValues(container).DATABASE_URL === undefined, c).toBe(true);
        expect(
          container.env.some((e: { name: string }) => e.name === "DATABASE_URL"),
          c,
        ).toBe(true);
      }
      for (const m of manifests) {
        expect(m.metadata.annotations?.team, `${m.kind}/${m.metadata.name}`).toBe("ops");
      }
      // An object's own annotations win over the common ones.
      const job = get(render(undefined, { ...base, "commonAnnotations.helm\\.sh/hook": "x" }), "Job", "migrations");
      expect(job.metadata.annotations?.["helm.sh/hook"]).toBe("pre-install,pre-upgrade");
    });

    it("works as a subchart: values under global are accepted", () => {
      expect(renderError(undefined, { ...base, "global.imageRegistry": "registry.example", "global.team": "x" })).toBe(
        "",
      );
      expect(renderError(undefined, { ...base, "globl.team": "x" })).toMatch(
        /additional properties 'globl' not allowed/,
      );
    });

    it("renders the same manifests every time, as GitOps tools render them (helm template, Argo CD)", () => {
      const first = renderYaml(undefined, base);
      expect(first.length).toBeGreaterThan(10_000);
      expect(renderYaml(undefined, base)).toBe(first);
      expect(first).not.toMatch(/BEGIN PRIVATE KEY/);
    });

    it("prints large numbers as integers, not in exponent notation", () => {
      const lifecycle = podSpec(get(render(undefined, base), "Deployment", "lifecycle")).containers[0].env;
      expect(lifecycle.find((e: { name: string }) => e.name === "AGGREGATES_1H_RETENTION_MS").value).toBe(
        "315360000000",
      );
      const manifests = render(undefined, { ...base, "jetstream.config.NATS_STREAM_MAX_BYTES": "107374182400" });
      const env = podSpec(get(manifests, "Deployment", "writer")).containers[0].env;
      expect(env.find((e: { name: string }) => e.name === "NATS_STREAM_MAX_BYTES").value).toBe("107374182400");
      const retention = podSpec(get(manifests, "Deployment", "receiver")).containers[0].env.find(
        (e: { name: string }) => e.name === "READINGS_RETENTION_MS",
      );
      expect(retention.value).toBe("31536000000");
    });

    it("pins images by digest when given one, under the registry prefix", () => {
      const manifests = render("production-values.yaml");
      expect(podSpec(get(manifests, "Deployment", "receiver")).containers[0].image).toBe(
        "registry.example.com/vigil/vigil-receiver@sha256:2222222222222222222222222222222222222222222222222222222222222222",
      );
      expect(podSpec(get(manifests, "Deployment", "writer")).containers[0].image).toBe(
        "registry.example.com/vigil/vigil-writer:0.1.0",
      );
    });

    it("takes an all-digit image tag (a short commit hash from --set) as a tag", () => {
      const manifests = render(undefined, { ...base, "image.tag": "8898926", "writer.image.tag": "0123456" });
      expect(podSpec(get(manifests, "Deployment", "receiver")).containers[0].image).toBe("vigil-receiver:8898926");
      expect(podSpec(get(manifests, "Deployment", "writer")).containers[0].image).toBe("vigil-writer:0123456");
    });

    it("traces every service to the configured endpoint at the configured ratio, and none without one", () => {
      const traced = render("production-values.yaml", { "telemetry.sampleRatio": "0.25" });
      for (const component of ["receiver", "writer", "query", "lifecycle"]) {
        const env = envValues(podSpec(get(traced, "Deployment", component)).containers[0]);
        expect(env, component).toMatchObject({
          OTEL_SERVICE_NAME: `vigil-${component}`,
          OTEL_EXPORTER_OTLP_ENDPOINT: "http://otel-collector.observability:4318",
          OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
          OTEL_TRACES_SAMPLER_ARG: "0.25",
        });
      }
      const untraced = envValues(podSpec(get(render(undefined, base), "Deployment", "receiver")).containers[0]);
      expect(Object.keys(untraced).filter((k) => k.startsWith("OTEL_"))).toEqual([]);
    });

    it("ships a Grafana dashboard that parses and queries the release's pods", () => {
      const cm = get(render("production-values.yaml"), "ConfigMap", "dashboard");
      const dashboard = JSON.parse(cm.data!["vigil.json"]!);
      expect(dashboard.uid).toBe("vigil-overview");
      expect(cm.metadata.labels?.grafana_dashboard).toBe("1");
      expect(dashboard.panels.filter((p: { type: string }) => p.type === "timeseries").length).toBeGreaterThan(3);
    });
  });
});
