import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { FEED_STREAM_NAME, STREAM_NAME } from "@vigil/bus";
import { type Component, componentRole, migrateToLatest, openDatabase, type VigilDatabase } from "@vigil/db";
import { createDevice } from "@vigil/devices";
import { createQueryApp, loadQueryConfig, type QueryApp, TokenSigner } from "@vigil/query";
import { createReceiverApp, loadReceiverConfig, type ReceiverApp } from "@vigil/receiver";
import { createLogger } from "@vigil/runtime";
import type { DeviceIdentity } from "@vigil/simulator";
import { createWriterApp, loadWriterConfig, type WriterApp } from "@vigil/writer";

/** Passwords of the users tests create; never used outside tests. */
export const ADMIN_PASSWORD = "admin-password-for-tests";
export const USER_PASSWORD = "user-password-for-tests";

export interface Pipeline {
  database: VigilDatabase;
  /** What the services were started with, for more processes on the same stack. */
  databaseUrl: string;
  natsUrl: string;
  receiver: ReceiverApp;
  writer: WriterApp;
  query: QueryApp;
  /** http://127.0.0.1:<query port> */
  queryUrl: string;
  /** An access token of the bootstrap admin (all scopes). */
  adminToken(): Promise<string>;
  /** Signs in over Connect-JSON and returns the tokens. */
  login(username: string, password: string): Promise<{ accessToken: string; refreshToken: string }>;
  /** Creates a user (as the admin) and returns an access token for it. */
  userToken(username: string, role?: "user" | "admin" | "clinician" | "technician"): Promise<string>;
  /**
   * Another query replica on the same database and NATS, with its own
   * connections and `env` on top of the pipeline's; stopped with the pipeline.
   */
  startQuery(env?: Record<string, string>): Promise<QueryApp>;
  /** Registers devices CODE-1..count and returns their keys. */
  provision(code: string, count: number): Promise<DeviceIdentity[]>;
  stop(): Promise<void>;
}

/**
 * Receiver, writer and query in this process on port 0, against a real
 * database URL and a real nats-server, as separate apps with their own
 * connections (only the migration runs here first).
 */
export async function startPipeline(options: {
  databaseUrl: string;
  natsUrl: string;
  env?: Record<string, string>;
  /** Each service signs in to PostgreSQL as its own role (vigil_receiver, …), as in production. */
  componentRoles?: boolean;
  /** More environment per service, on top of `env` (such as each one's NATS user). */
  componentEnv?: Partial<Record<"receiver" | "writer" | "query", Record<string, string>>>;
}): Promise<Pipeline> {
  const env = {
    DATABASE_URL: options.databaseUrl,
    NATS_URL: options.natsUrl,
    RECEIVER_PORT: "0",
    RECEIVER_HOST: "127.0.0.1",
    QUERY_PORT: "0",
    QUERY_HOST: "127.0.0.1",
    QUERY_OPS_PORT: "0",
    RECEIVER_OPS_PORT: "0",
    WRITER_OPS_PORT: "0",
    WRITER_OPS_HOST: "127.0.0.1",
    // One signing key for the pipeline, so replicas from startQuery accept each other's tokens.
    AUTH_JWT_KEYS: JSON.stringify({ keys: [await TokenSigner.generateJwk()] }),
    AUTH_BOOTSTRAP_ADMIN_USERNAME: "admin",
    AUTH_BOOTSTRAP_ADMIN_PASSWORD: ADMIN_PASSWORD,
    // Tests sign in often and fast.
    AUTH_LOGIN_ATTEMPTS_PER_USERNAME_PER_MIN: "1000",
    AUTH_LOGIN_ATTEMPTS_PER_ADDRESS_PER_MIN: "1000",
    ...options.env,
  };
  const logger = createLogger({ name: "e2e", level: process.env.E2E_LOG_LEVEL ?? "warn" });
  const database = await openDatabase(options.databaseUrl);
  await migrateToLatest(database.db);
  // Embedded databases live in this process only: share the one handle.
  const shared = options.databaseUrl.startsWith("embedded:") ? { database } : {};
  const as = (component: "receiver" | "writer" | "query") => ({
    ...env,
    ...(options.componentRoles ? { DATABASE_URL: roleUrl(options.databaseUrl, component) } : {}),
    ...options.componentEnv?.[component],
  });
  const receiver = createReceiverApp(loadReceiverConfig(as("receiver")), { logger, ...shared });
  const writer = createWriterApp(loadWriterConfig(as("writer")), { logger, ...shared });
  const query = createQueryApp(loadQueryConfig(as("query")), { logger, ...shared });
  await receiver.start();
  await writer.start();
  await query.start();
  // With TLS the certificate names localhost; fetch below cannot be given a CA, so TLS tests sign in themselves.
  const queryUrl = options.env?.TLS_CERT_FILE ? `https://localhost:${query.port}` : `http://127.0.0.1:${query.port}`;
  const login = async (username: string, password: string) => {
    const res = await fetch(`${queryUrl}/vigil.auth.v1.AuthService/Login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username, password }),
    });
    const body = (await res.json()) as { tokens?: { accessToken: string; refreshToken: string }; message?: string };
    if (!res.ok || !body.tokens) throw new Error(`login failed: ${res.status} ${body.message}`);
    return body.tokens;
  };
  const replicas: QueryApp[] = [];
  let admin: Promise<string> | undefined;
  const adminToken = () => {
    admin ??= login("admin", ADMIN_PASSWORD).then((t) => t.accessToken);
    return admin;
  };
  return {
    database,
    databaseUrl: options.databaseUrl,
    natsUrl: options.natsUrl,
    receiver,
    writer,
    query,
    queryUrl,
    adminToken,
    login,
    async userToken(username, role = "user") {
      const res = await fetch(`${queryUrl}/vigil.auth.v1.AuthService/Register`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${await adminToken()}` },
        body: JSON.stringify({
          username,
          password: USER_PASSWORD,
          role: `ROLE_${role.toUpperCase()}`,
        }),
      });
      if (!res.ok) throw new Error(`register failed: ${res.status} ${await res.text()}`);
      return (await login(username, USER_PASSWORD)).accessToken;
    },
    async startQuery(extra = {}) {
      const replica = createQueryApp(loadQueryConfig({ ...as("query"), ...extra }), {
        logger: logger.child({ replica: replicas.length + 1 }),
        ...shared,
      });
      await replica.start();
      replicas.push(replica);
      return replica;
    },
    async provision(code, count) {
      const out: DeviceIdentity[] = [];
      for (let n = 1; n <= count; n++) {
        const { apiKey } = await createDevice({ db: database.db, actor: "system:e2e" }, { code, number: n });
        out.push({ code, number: n, apiKey });
      }
      return out;
    },
    async stop() {
      await receiver.stop();
      await writer.stop();
      for (const replica of replicas) await replica.stop();
      await query.stop();
      await database.close();
    },
  };
}

/** Deletes the VIGIL_READINGS stream (and the alerters' feed sourcing it) so a test starts from an empty log. */
export async function resetJetStream(natsUrl: string): Promise<void> {
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete(FEED_STREAM_NAME).catch(() => false);
    await jsm.streams.delete(STREAM_NAME).catch(() => false);
  } finally {
    await nc.close();
  }
}

/** The database URL with a component's role as the user (the test cluster trusts local sign-ins). */
export function roleUrl(databaseUrl: string, component: Component): string {
  const u = new URL(databaseUrl);
  u.username = componentRole(component);
  u.password = "";
  return u.toString();
}
