/**
 * The real stack the console's browser tests run against, as its own Node
 * process (started by global-setup.ts): private PostgreSQL and nats-server
 * (JetStream), receiver, writer and the query service serving web/dist, plus
 * devices that stream, one that never connected, a month of history for
 * one, and two dead letters. Prints one JSON line (StackInfo) once ready and
 * stops everything on SIGTERM.
 *
 * Access tokens live 10 s here (the API's minimum), so every test also runs
 * through several token refreshes.
 */
import { sql } from "@vigil/db";
import { createDevice } from "@vigil/devices";
import {
  ADMIN_PASSWORD,
  type DeviceFeed,
  openRawStream,
  startDeviceFeed,
  startPipeline,
  USER_PASSWORD,
} from "@vigil/e2e";
import { recordDeadLetter } from "@vigil/ingest";
import { encodeReadingBatch } from "@vigil/proto";
import { createTestDatabase, freePort, startNats, startOidcProvider, startPostgres, waitFor } from "@vigil/testkit";
import { distDir } from "../scripts/source-hash.ts";
import { ROBOT_SENSORS } from "./stack-devices.ts";

export interface StackInfo {
  url: string;
  admin: { username: string; password: string };
  user: { username: string; password: string };
  /** Readings the month-long history device (HIST-1) holds. */
  historyReadings: number;
  /** Readings in the replayable dead letter (DL-1). */
  deadLetterReadings: number;
  /** A second query replica with single sign-on, against a real OpenID Connect provider. */
  sso: { url: string; displayName: string; clinician: string; unmapped: string };
}

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

const [postgres, nats] = await Promise.all([startPostgres({ fast: true }), startNats()]);
const pipeline = await startPipeline({
  databaseUrl: await createTestDatabase(postgres.url, "console"),
  natsUrl: nats.url,
  env: { AUTH_ACCESS_TOKEN_TTL_MS: "10000", QUERY_CONSOLE_DIR: distDir },
});
const db = pipeline.database.db;
const admin = { db, actor: "system:console-tests" };
const port = pipeline.receiver.port;
await pipeline.userToken("nurse");

async function device(code: string, number: number, kind: string, site: string, model = "") {
  return (await createDevice(admin, { code, number, kind, site, model })).apiKey;
}

// Two monitors at the quick start's rate (a batch a second, 10 samples per sensor), one
// robot with 20 sensors at 10 Hz, one device that never connected.
const feeds: DeviceFeed[] = [];
for (const n of [1, 2]) {
  feeds.push(
    await startDeviceFeed({
      port,
      apiKey: await device("DEMO", n, "patient_monitor", "ward-4", "M-200"),
      sensors: ["patient.heart_rate_bpm", "patient.spo2_pct"],
      hz: 10,
      intervalMs: 1_000,
    }),
  );
}
feeds.push(
  await startDeviceFeed({
    port,
    apiKey: await device("ROB", 1, "surgical_robot", "theatre-3", "Arm X"),
    sensors: ROBOT_SENSORS,
    hz: 10,
    intervalMs: 100,
  }),
);
await device("OR", 1, "surgical_robot", "theatre-1", "Arm X");

// A month of one reading a minute from HIST-1: more than a chart draws one by one.
const historyKey = await device("HIST", 1, "environment", "plant-room");
const historyEnd = Math.floor(Date.now() / MINUTE) * MINUTE - 10 * MINUTE;
const times = Array.from({ length: 30 * 24 * 60 }, (_, i) => historyEnd - 30 * DAY + i * MINUTE);
const history = openRawStream(port, historyKey);
history.hello();
await history.next();
for (let i = 0, seq = 1; i < times.length; i += 10_000, seq++) {
  const t = times.slice(i, i + 10_000);
  history.batch({
    seq,
    series: [
      {
        sensor: "room.temperature_c",
        times: Float64Array.from(t),
        values: Float64Array.from(t, (x) => 21 + 2 * Math.sin((x / DAY) * 2 * Math.PI)),
      },
    ],
  });
  const res = await history.next(30_000);
  if (res.kind.case !== "ack") throw new Error(`history batch ${seq}: ${res.kind.case}`);
}
history.end();
history.close();

// Dead letters of DL-1: one the receiver refused (a value that is not a number: replaying it
// fails again) and one a writer could not store (a valid batch: replaying it stores it).
const deadKey = await device("DL", 1, "patient_monitor", "ward-4");
const refused = openRawStream(port, deadKey);
refused.hello();
await refused.next();
refused.batch({
  seq: 1,
  series: [
    {
      sensor: "patient.heart_rate_bpm",
      times: Float64Array.of(Date.now() - MINUTE),
      values: Float64Array.of(Number.NaN),
    },
  ],
});
const reject = await refused.next();
if (reject.kind.case !== "reject") throw new Error(`expected a reject, got ${reject.kind.case}`);
refused.end();
refused.close();
const dl = await db
  .selectFrom("devices")
  .select("id")
  .where("code", "=", "DL")
  .where("number", "=", 1)
  .executeTakeFirstOrThrow();
const replayTimes = Array.from({ length: 60 }, (_, i) => Date.now() - 20 * MINUTE + i * 1_000);
await recordDeadLetter(db, {
  deviceId: dl.id,
  seq: 2,
  source: "writer",
  reason: "could not be stored after 10 deliveries: connection terminated (database restarted)",
  payload: encodeReadingBatch({
    seq: 2,
    series: [
      {
        sensor: "patient.heart_rate_bpm",
        times: Float64Array.from(replayTimes),
        values: Float64Array.from(replayTimes, (_, i) => 70 + (i % 5)),
      },
    ],
  }),
});

await waitFor(
  "the history readings to be stored",
  async () => {
    const { rows } = await sql<{ n: string }>`SELECT count(*) AS n FROM readings r JOIN devices d ON d.id = r.device_id
      WHERE d.code = 'HIST'`.execute(db);
    return Number(rows[0]?.n) >= times.length;
  },
  60_000,
  500,
);

// Single sign-on: oidc-provider (OpenID Certified) and a query replica configured for it.
const ssoPort = await freePort();
const ssoUrl = `http://127.0.0.1:${ssoPort}`;
const provider = await startOidcProvider({
  client: {
    clientId: "vigil-console",
    clientSecret: "console-test-secret",
    redirectUris: [`${ssoUrl}/auth/oidc/callback`],
  },
  accounts: {
    "ward.nurse": { preferred_username: "ward.nurse", groups: ["ward-7"] },
    visitor: { preferred_username: "visitor", groups: ["visitors"] },
  },
});
await pipeline.startQuery({
  QUERY_PORT: String(ssoPort),
  OIDC_ISSUER_URL: provider.issuer,
  OIDC_CLIENT_ID: "vigil-console",
  OIDC_CLIENT_SECRET: "console-test-secret",
  OIDC_REDIRECT_URL: `${ssoUrl}/auth/oidc/callback`,
  OIDC_SCOPES: "openid profile groups",
  OIDC_ROLE_MAP: "ward-7=clinician",
  OIDC_DISPLAY_NAME: "Hospital account",
});

const info: StackInfo = {
  url: pipeline.queryUrl,
  admin: { username: "admin", password: ADMIN_PASSWORD },
  user: { username: "nurse", password: USER_PASSWORD },
  historyReadings: times.length,
  deadLetterReadings: replayTimes.length,
  sso: { url: ssoUrl, displayName: "Hospital account", clinician: "ward.nurse", unmapped: "visitor" },
};
process.stdout.write(`VIGIL_STACK ${JSON.stringify(info)}\n`);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await Promise.all(feeds.map((f) => f.stop()));
  await pipeline.stop();
  await provider.stop();
  await Promise.all([postgres.stop(), nats.destroy()]);
  process.exit(0);
}
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());
