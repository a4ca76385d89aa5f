import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, usernamePasswordAuthenticator } from "@nats-io/transport-node";
import {
  connectJetStreamBus,
  NATS_COMPONENTS,
  type NatsComponent,
  natsInboxPrefix,
  natsPermissions,
  natsUser,
  STREAM_NAME,
  setupJetStream,
} from "@vigil/bus";
import { freePort } from "@vigil/testkit";
import { createCertificateAuthority, issueServerCertificate } from "@vigil/tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findTool, get, helmBin, type Manifest, podSpec, render } from "./chart-render.ts";
import {
  DEPLOY_DOC,
  externalNatsExample,
  PERMISSIONS_FILE,
  permissionsFile,
  withExample,
} from "./nats-permissions-file.ts";

const services = ["receiver", "writer", "query", "alerter"] as const;
const natsServer = findTool("nats-server");

/** The bundled NATS's configuration as rendered. */
function natsConf(manifests: Manifest[]): string {
  return get(manifests, "ConfigMap", "nats").data!["nats.conf"]!;
}

/** Each user's permissions as the rendered configuration grants them. */
function renderedPermissions(conf: string): Record<string, unknown> {
  const users: Record<string, unknown> = {};
  for (const m of conf.matchAll(
    /\{ user: "vigil-([a-z]+)", password: \$VIGIL_[A-Z]+_PASSWORD, permissions: (\{.*\}) \}$/gm,
  )) {
    users[m[1]!] = JSON.parse(m[2]!);
  }
  return users;
}

// biome-ignore lint/suspicious/noExplicitAny: rendered containers are checked field by field
function container(m: Manifest, name: string): any {
  return podSpec(m).containers.find((c: { name: string }) => c.name === name);
}

function env(m: Manifest, name: string): Record<string, { value?: string; valueFrom?: unknown }> {
  return Object.fromEntries(container(m, name).env.map((e: { name: string }) => [e.name, e]));
}

describe("the NATS permissions the chart and the docs carry", () => {
  it("files/nats-permissions.json is what permissions.ts defines (npm run chart:docs)", () => {
    expect(JSON.parse(readFileSync(PERMISSIONS_FILE, "utf8")), "stale: run npm run chart:docs").toEqual(
      JSON.parse(permissionsFile()),
    );
  });

  it("docs/deploy.md shows what `vigil nats config` prints (npm run chart:docs)", () => {
    const doc = readFileSync(DEPLOY_DOC, "utf8");
    expect(withExample(doc, externalNatsExample()), "stale: run npm run chart:docs").toBe(doc);
  });
});

describe.skipIf(!helmBin)("the bundled NATS's users, Secrets and TLS", () => {
  const manifests = helmBin ? render("dev-values.yaml", { "jetstream.config.NATS_CONSUMER": "my-writers" }) : [];

  it("grants each user exactly permissions.ts's subjects, for the configured consumer", () => {
    expect(renderedPermissions(natsConf(manifests))).toEqual(natsPermissions("my-writers"));
  });

  it("takes every password from its component's Secret, made by a hook Job that never overwrites one", () => {
    const nats = get(manifests, "StatefulSet", "nats");
    const passwords = Object.entries(env(nats, "nats")).filter(([k]) => k.endsWith("_PASSWORD"));
    expect(Object.fromEntries(passwords)).toEqual(
      Object.fromEntries(
        NATS_COMPONENTS.map((c) => [
          `VIGIL_${c.toUpperCase()}_PASSWORD`,
          {
            name: `VIGIL_${c.toUpperCase()}_PASSWORD`,
            valueFrom: { secretKeyRef: { name: `rel-vigil-nats-${c}`, key: "password" } },
          },
        ]),
      ),
    );
    const job = get(manifests, "Job", "nats-credentials");
    expect(job.metadata.annotations?.["helm.sh/hook"]).toBe("pre-install,pre-upgrade");
    expect(container(job, "ensure-secrets").args.slice(0, 4)).toEqual([
      "nats",
      "ensure-secrets",
      "--prefix",
      "rel-vigil-nats",
    ]);
    const role = get(manifests, "Role", "nats-credentials") as unknown as {
      rules: Array<{ resourceNames?: string[] }>;
    };
    expect(role.rules[0]?.resourceNames).toEqual(NATS_COMPONENTS.map((c) => `rel-vigil-nats-${c}`));
  });

  it("mounts each component's own Secret only, and leaves the streams to the admin's setup Job", () => {
    for (const c of services) {
      const d = get(manifests, "Deployment", c);
      const e = env(d, c);
      expect(e.NATS_USER?.valueFrom, c).toEqual({ secretKeyRef: { name: `rel-vigil-nats-${c}`, key: "user" } });
      expect(e.NATS_PASSWORD_FILE?.value, c).toBe("/etc/vigil/nats-auth/password");
      expect(e.NATS_PASSWORD?.value, c).toBe("");
      expect(e.NATS_MANAGE_STREAMS?.value, c).toBe("false");
      const secrets = podSpec(d)
        .volumes.filter((v: { secret?: unknown }) => v.secret)
        .map((v: { secret: { secretName: string } }) => v.secret.secretName)
        .filter((n: string) => n.startsWith("rel-vigil-nats-"));
      expect(secrets, c).toEqual([`rel-vigil-nats-${c}`]);
    }
    const setup = manifests.find((m) => m.kind === "Job" && m.metadata.name === "rel-vigil-nats-setup-1")!;
    expect(setup.metadata.annotations?.["helm.sh/hook"]).toBeUndefined();
    const e = env(setup, "nats-setup");
    expect(container(setup, "nats-setup").args).toEqual(["nats", "setup"]);
    expect(e.NATS_USER?.valueFrom).toEqual({ secretKeyRef: { name: "rel-vigil-nats-admin", key: "user" } });
    expect(e.NATS_CONSUMER?.value).toBe("my-writers");
    expect(e.ALERTER_PARTITIONS?.value).toBe("16");
  });

  it("serves TLS to clients with the release's certificate, which names the NATS Service", () => {
    expect(natsConf(manifests)).toMatch(/tls \{\n\s+cert_file: \/etc\/nats\/tls\/tls.crt/);
    expect(natsConf(manifests)).toContain("no_advertise: true");
    const nats = get(manifests, "StatefulSet", "nats");
    expect(podSpec(nats).volumes).toContainEqual({
      name: "tls",
      secret: { secretName: "vigil-tls", defaultMode: 288 },
    });
    for (const c of services) {
      const e = env(get(manifests, "Deployment", c), c);
      expect(e.NATS_URL?.value, c).toBe("tls://rel-vigil-nats:4222");
      expect(e.NATS_TLS_CA_FILE?.value, c).toBe("/etc/vigil/tls/ca.crt");
    }
    const certManager = render("dev-values.yaml", {
      "tls.existingSecret": "",
      "tls.certManager.enabled": "true",
      "tls.certManager.issuerRef.name": "ca",
    });
    expect(get(certManager, "Certificate", "tls").spec.dnsNames).toEqual(
      expect.arrayContaining(["rel-vigil-nats", "rel-vigil-nats.vigil.svc", "rel-vigil-nats.vigil.svc.cluster.local"]),
    );
    // Off on request (a certificate that does not name NATS), and with TLS off altogether.
    const plainSets: Array<Record<string, string>> = [
      { "natsCluster.tls.enabled": "false" },
      { "tls.enabled": "false", "tls.existingSecret": "" },
    ];
    for (const set of plainSets) {
      const plain = render("dev-values.yaml", set);
      expect(natsConf(plain)).not.toContain("cert_file");
      expect(env(get(plain, "Deployment", "writer"), "writer").NATS_URL?.value).toBe("nats://rel-vigil-nats:4222");
    }
  });

  it("without users (natsCluster.auth.enabled=false): no Secrets, no setup Job, components manage the streams", () => {
    const open = render("dev-values.yaml", { "natsCluster.auth.enabled": "false" });
    expect(natsConf(open)).not.toContain("authorization");
    const names = open.map((m) => m.metadata.name);
    expect(names.filter((n) => /^rel-vigil-nats-(setup|credentials)/.test(n))).toEqual([]);
    expect(podSpec(get(open, "StatefulSet", "nats")).containers[0].env.map((e: { name: string }) => e.name)).toEqual([
      "SERVER_NAME",
    ]);
    expect(env(get(open, "Deployment", "receiver"), "receiver").NATS_MANAGE_STREAMS?.value).toBe("true");
  });

  it("an external NATS: each component's user from nats.credentials, the setup Job with the admin's", () => {
    const set = Object.fromEntries(NATS_COMPONENTS.map((c) => [`nats.credentials.${c}`, `ext-${c}`]));
    const external = render("production-values.yaml", { ...set, "database.componentSecrets.alerter": "db-alerter" });
    for (const c of services) {
      const e = env(get(external, "Deployment", c), c);
      expect(e.NATS_USER?.valueFrom, c).toEqual({ secretKeyRef: { name: `ext-${c}`, key: "user" } });
    }
    expect(external.some((m) => m.kind === "Job" && m.metadata.name.startsWith("rel-vigil-nats-setup"))).toBe(true);
    // The alerter signs in to PostgreSQL as vigil_alerter; the migrations set its password.
    expect(env(get(external, "Deployment", "alerter"), "alerter").DATABASE_URL?.valueFrom).toEqual({
      secretKeyRef: { name: "db-alerter", key: "DATABASE_URL" },
    });
    expect(env(get(external, "Job", "migrations"), "migrate").DATABASE_ROLE_PASSWORD_ALERTER?.valueFrom).toEqual({
      secretKeyRef: { name: "db-alerter", key: "password" },
    });
    const withoutAdmin = Object.fromEntries(Object.entries(set).filter(([k]) => k !== "nats.credentials.admin"));
    const noAdmin = render("production-values.yaml", withoutAdmin);
    expect(noAdmin.some((m) => m.kind === "Job" && m.metadata.name.startsWith("rel-vigil-nats-setup"))).toBe(false);
  });
});

/**
 * The rendered configuration run by a real nats-server: the admin sets up
 * the streams, every component connects as its own user, and a receiver's
 * user cannot read the readings.
 */
describe.skipIf(!helmBin || !natsServer)("the bundled NATS's rendered configuration on nats-server", () => {
  const dir = mkdtempSync(join(tmpdir(), "vigil-chart-nats-"));
  const passwords = Object.fromEntries(NATS_COMPONENTS.map((c) => [c, `p-${c}-${Date.now()}`])) as Record<
    NatsComponent,
    string
  >;
  let server: ChildProcess | undefined;
  let url = "";

  beforeAll(async () => {
    const manifests = render("dev-values.yaml", {
      "tls.enabled": "false",
      "tls.existingSecret": "",
      "natsCluster.replicas": "1",
      "jetstream.config.NATS_STREAM_REPLICAS": "1",
    });
    const port = await freePort();
    const conf = natsConf(manifests)
      .replace("listen: 0.0.0.0:4222", `listen: 127.0.0.1:${port}`)
      .replace("http: 0.0.0.0:8222", "")
      .replace("/var/run/nats/nats.pid", join(dir, "nats.pid"))
      .replace("store_dir: /data", `store_dir: "${join(dir, "store")}"`);
    writeFileSync(join(dir, "nats.conf"), conf);
    const envs = Object.fromEntries(NATS_COMPONENTS.map((c) => [`VIGIL_${c.toUpperCase()}_PASSWORD`, passwords[c]]));
    server = spawn(natsServer!, ["-c", join(dir, "nats.conf")], {
      env: { ...process.env, SERVER_NAME: "chart-test", ...envs },
      stdio: "ignore",
    });
    url = `nats://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      const nc = await connect({
        servers: url,
        authenticator: usernamePasswordAuthenticator("vigil-admin", passwords.admin),
      }).catch(() => undefined);
      if (nc) {
        await nc.close();
        break;
      }
      if (i > 100) throw new Error("nats-server did not start with the rendered configuration");
      await new Promise((r) => setTimeout(r, 100));
    }
  });
  afterAll(() => {
    server?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it("lets the admin set up, every component connect as itself, and refuses the receiver the readings", async () => {
    const consumer = { durable: "vigil-writer", ackWaitMs: 30_000, maxDeliver: 10, maxAckPending: 1_000 };
    const auth = (c: NatsComponent) => ({ user: natsUser(c), password: () => passwords[c] });
    await setupJetStream({
      servers: url,
      name: "setup",
      auth: auth("admin"),
      stream: { maxAgeMs: 0, maxBytes: -1, duplicateWindowMs: 120_000, replicas: 1 },
      consumer,
      feed: { partitions: 16, maxBytes: 1024 ** 3, maxAgeMs: 3_600_000, replicas: 1, storage: "file" },
    });
    for (const c of services) {
      const bus = await connectJetStreamBus({
        servers: url,
        name: c,
        auth: auth(c),
        component: c,
        manageStreams: false,
        consumer,
        publishTimeoutMs: 2_000,
      });
      await bus.close();
    }
    const nc = await connect({
      servers: url,
      authenticator: usernamePasswordAuthenticator(natsUser("receiver"), passwords.receiver),
      inboxPrefix: natsInboxPrefix("receiver"),
    });
    try {
      const jsm = await jetstreamManager(nc);
      await expect(jsm.streams.delete(STREAM_NAME)).rejects.toThrow(/Permissions Violation for Publish/);
    } finally {
      await nc.close();
    }
  });
});

/**
 * The bundled NATS's tls-reloader sidecar, its script as rendered, run
 * against a real nats-server: when the certificate files change (cert-manager
 * renewed the Secret), nats-server serves the new certificate without a restart.
 */
describe.skipIf(!helmBin || !natsServer)("the bundled NATS's certificate reload", () => {
  const dir = mkdtempSync(join(tmpdir(), "vigil-chart-nats-tls-"));
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const c of children) c.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it("makes nats-server serve a renewed certificate", async () => {
    const script = get(render("dev-values.yaml"), "ConfigMap", "nats").data!["tls-reload.sh"]!;
    const [oldCa, newCa] = [
      await createCertificateAuthority({ name: "old" }),
      await createCertificateAuthority({ name: "new" }),
    ];
    const tlsDir = join(dir, "tls");
    mkdirSync(tlsDir);
    const install = async (ca: typeof oldCa) => {
      const server = await issueServerCertificate(["localhost"], { ca });
      // As the kubelet updates a Secret volume: each file replaced whole.
      for (const [name, content] of [
        ["tls.crt", server.cert],
        ["tls.key", server.key],
      ] as const) {
        writeFileSync(join(tlsDir, `.${name}`), content, { mode: 0o600 });
        renameSync(join(tlsDir, `.${name}`), join(tlsDir, name));
      }
    };
    await install(oldCa);
    writeFileSync(join(dir, "old-ca.pem"), oldCa.cert);
    writeFileSync(join(dir, "new-ca.pem"), newCa.cert);
    const port = await freePort();
    writeFileSync(
      join(dir, "nats.conf"),
      [
        `listen: 127.0.0.1:${port}`,
        `pid_file: "${join(dir, "nats.pid")}"`,
        `tls { cert_file: "${join(tlsDir, "tls.crt")}", key_file: "${join(tlsDir, "tls.key")}", timeout: 2 }`,
      ].join("\n"),
    );
    children.push(spawn(natsServer!, ["-c", join(dir, "nats.conf")], { stdio: "ignore" }));
    const trusting = (caFile: string) =>
      connect({ servers: `tls://localhost:${port}`, tls: { caFile }, reconnect: false, timeout: 2_000 }).then(
        (nc) => nc.close().then(() => "connected"),
        (err: Error) => err.message,
      );
    await expect.poll(() => trusting(join(dir, "old-ca.pem")), { timeout: 10_000 }).toBe("connected");
    children.push(
      spawn("sh", ["-c", script], {
        env: {
          PATH: `${join(natsServer!, "..")}:${process.env.PATH}`,
          TLS_DIR: tlsDir,
          PID_FILE: join(dir, "nats.pid"),
          INTERVAL_SECONDS: "1",
        },
        stdio: "ignore",
      }),
    );
    expect(await trusting(join(dir, "new-ca.pem"))).not.toBe("connected");
    await install(newCa);
    await expect.poll(() => trusting(join(dir, "new-ca.pem")), { timeout: 15_000 }).toBe("connected");
    expect(await trusting(join(dir, "old-ca.pem"))).not.toBe("connected");
  });
});
