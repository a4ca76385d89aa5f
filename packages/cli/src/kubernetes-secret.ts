import { readFile } from "node:fs/promises";
import { request } from "node:https";
import { join } from "node:path";

/** Where a pod finds its ServiceAccount's token, CA and namespace. */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

export interface InCluster {
  /** https://host:port of the Kubernetes API (KUBERNETES_SERVICE_HOST/PORT). */
  server: string;
  token: string;
  ca: Buffer;
  namespace: string;
}

/** The API server and credentials of the pod this runs in. */
export async function inCluster(
  env: Record<string, string | undefined>,
  dir = SERVICE_ACCOUNT_DIR,
): Promise<InCluster> {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT ?? "443";
  if (!host) throw new Error("not in a Kubernetes pod: KUBERNETES_SERVICE_HOST is not set");
  const [token, ca, namespace] = await Promise.all([
    readFile(join(dir, "token"), "utf8"),
    readFile(join(dir, "ca.crt")),
    readFile(join(dir, "namespace"), "utf8"),
  ]);
  return { server: `https://${host.includes(":") ? `[${host}]` : host}:${port}`, token: token.trim(), ca, namespace };
}

/**
 * Creates a Secret unless one of that name exists; never changes an existing
 * one. Needs `get` on the Secret and `create` on Secrets in the namespace.
 * Returns "created" or "exists" (also when another pod created it first).
 */
export async function ensureSecret(
  cluster: InCluster,
  secret: {
    name: string;
    data: Record<string, string>;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  },
): Promise<"created" | "exists"> {
  const base = `/api/v1/namespaces/${encodeURIComponent(cluster.namespace)}/secrets`;
  const found = await call(cluster, "GET", `${base}/${encodeURIComponent(secret.name)}`);
  if (found.status === 200) return "exists";
  if (found.status !== 404) throw apiError("read", secret.name, found);
  const body = {
    apiVersion: "v1",
    kind: "Secret",
    type: "Opaque",
    metadata: {
      name: secret.name,
      namespace: cluster.namespace,
      labels: secret.labels,
      annotations: secret.annotations,
    },
    data: Object.fromEntries(Object.entries(secret.data).map(([k, v]) => [k, Buffer.from(v).toString("base64")])),
  };
  const created = await call(cluster, "POST", base, body);
  if (created.status === 201 || created.status === 200) return "created";
  if (created.status === 409) return "exists";
  throw apiError("create", secret.name, created);
}

interface Answer {
  status: number;
  body: string;
}

function apiError(what: string, name: string, answer: Answer): Error {
  let message = answer.body.slice(0, 300);
  try {
    message = (JSON.parse(answer.body) as { message?: string }).message ?? message;
  } catch {
    // not a Kubernetes Status: shown as is
  }
  return new Error(`cannot ${what} Secret ${name}: HTTP ${answer.status}: ${message}`);
}

/** One call to the API server: TLS verified against the cluster's CA, bounded in time and size. */
function call(cluster: InCluster, method: "GET" | "POST", path: string, body?: unknown): Promise<Answer> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, cluster.server),
      {
        method,
        ca: cluster.ca,
        timeout: 15_000,
        headers: {
          authorization: `Bearer ${cluster.token}`,
          accept: "application/json",
          ...(payload ? { "content-type": "application/json", "content-length": payload.length } : {}),
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          if (text.length < 65_536) text += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`the Kubernetes API did not answer ${method} ${path} in 15 s`)));
    req.on("error", reject);
    req.end(payload);
  });
}
