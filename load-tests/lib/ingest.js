// Device streams for k6: each VU is one device holding IngestService/Stream sessions, as the
// device protocol (docs/device-protocol.md) describes: Hello → Welcome (resume above
// last_durable_seq), batches with increasing seq within the in-flight window, one answer per
// batch (Ack, Reject, Throttle), Drain; unacked batches are kept and resent on the next session.
import { check, fail } from "k6";
import { SharedArray } from "k6/data";
import exec from "k6/execution";
import { Counter, Trend } from "k6/metrics";
import grpc from "k6/net/grpc";
import { clearInterval, clearTimeout, setInterval, setTimeout } from "k6/timers";
import { body, failure, login, rpc } from "./connect.js";
import { envChoice, envInt, envList, envNumber, envString } from "./env.js";

const METHOD = "vigil.ingest.v1.IngestService/Stream";

export const ingestSettings = {
  receiver: envString("RECEIVER_ADDR", "127.0.0.1:50051"),
  // TLS to the receiver: on with RECEIVER_TLS=true (the system's roots) or a RECEIVER_CA_FILE.
  receiverTls: envChoice("RECEIVER_TLS", "", ["", "true", "false"]),
  receiverCaFile: envString("RECEIVER_CA_FILE", ""),
  intervalMs: envInt("INGEST_INTERVAL_MS", 1000, 10, 3_600_000),
  batchSize: envInt("INGEST_BATCH_SIZE", 10, 1, 10_000),
  sensors: envList("INGEST_SENSORS", "patient.heart_rate_bpm,patient.spo2_pct"),
  streamSeconds: envInt("INGEST_STREAM_SECONDS", 30, 1, 86_400),
  ackWaitSeconds: envInt("INGEST_ACK_WAIT_SECONDS", 10, 1, 600),
  invalidEvery: envInt("INGEST_INVALID_EVERY", 0, 0, 1_000_000),
  maxPending: envInt("INGEST_MAX_PENDING", 1000, 1, 1_000_000),
  ackP99Ms: envNumber("INGEST_ACK_P99_MS", 1000, 0),
  maxStreamErrors: envInt("INGEST_MAX_STREAM_ERRORS", 0, 0),
  devicesFile: envString("DEVICES_FILE", ""),
  provisionCode: envString("PROVISION_CODE", "LOAD"),
  adminUsername: envString("ADMIN_USERNAME", "admin"),
  adminPassword: envString("ADMIN_PASSWORD", ""),
};
const S = ingestSettings;

// Device keys from a file (written by `vigil devices create … --count N` or the load:smoke
// runner), read once and shared by all VUs. open() resolves paths against this script's folder,
// so give an absolute path.
const fileDevices = S.devicesFile ? new SharedArray("devices", () => devicesFrom(open(S.devicesFile))) : [];

// How each VU dials the receiver. A CA file (absolute path, read once here in the init context)
// turns TLS on and is the only root trusted; RECEIVER_TLS=true alone trusts the system's roots.
// The receiver's certificate must name the host in RECEIVER_ADDR.
const receiverCa = S.receiverCaFile ? open(S.receiverCaFile) : undefined;
if (S.receiverTls === "false" && receiverCa) throw new Error("RECEIVER_CA_FILE needs TLS: unset RECEIVER_TLS=false");
const connectParams =
  receiverCa || S.receiverTls === "true"
    ? { plaintext: false, timeout: "30s", ...(receiverCa && { tls: { cacerts: [receiverCa] } }) }
    : { plaintext: true, timeout: "30s" };

// `vigil devices create` prints [{device: {code, number, …}, apiKey}]; flat {code, number, apiKey} works too.
function devicesFrom(text) {
  const parsed = JSON.parse(text);
  const list = (Array.isArray(parsed) ? parsed : [parsed]).map((d) => ({ ...d.device, ...d }));
  for (const d of list) {
    if (typeof d.apiKey !== "string" || typeof d.code !== "string") {
      throw new Error(`DEVICES_FILE must hold {device: {code, number}, apiKey} or {code, number, apiKey} objects`);
    }
  }
  return list.map((d) => ({ code: d.code, number: d.number, apiKey: d.apiKey }));
}

export const ingestMetrics = {
  ackLatency: new Trend("ingest_ack_latency", true),
  welcomeLatency: new Trend("ingest_welcome_latency", true),
  sent: new Counter("ingest_batches_sent"),
  acks: new Counter("ingest_acks"),
  readingsAcked: new Counter("ingest_readings_acked"),
  duplicateAcks: new Counter("ingest_duplicate_acks"),
  unexpectedRejects: new Counter("ingest_rejects_unexpected"),
  expectedRejects: new Counter("ingest_rejects_expected"),
  invalidAcked: new Counter("ingest_invalid_acked"),
  throttles: new Counter("ingest_throttles"),
  drains: new Counter("ingest_drains"),
  streamErrors: new Counter("ingest_stream_errors"),
  unackedAtEnd: new Counter("ingest_unacked_at_session_end"),
  skipped: new Counter("ingest_batches_skipped"),
};
const M = ingestMetrics;

/** Thresholds that fail the run: ack latency p99, no unexpected rejects, no broken streams, acks at all. */
export function ingestThresholds() {
  return {
    ingest_ack_latency: [`p(99)<${S.ackP99Ms}`],
    ingest_rejects_unexpected: ["count==0"],
    ingest_invalid_acked: ["count==0"],
    ingest_stream_errors: [`count<=${S.maxStreamErrors}`],
    ingest_acks: ["count>0"],
    "checks{step:welcome}": ["rate==1"],
  };
}

/**
 * setup(): the devices to stream as. From DEVICES_FILE when given; otherwise registered through
 * the query API as PROVISION_CODE-1..needed by ADMIN_USERNAME (an existing device gets a new key).
 */
export function ingestSetup(needed) {
  if (S.devicesFile) {
    if (fileDevices.length < needed) {
      fail(`DEVICES_FILE holds ${fileDevices.length} devices; this run can use ${needed} VUs at once, one per device`);
    }
    return { devices: null };
  }
  if (!S.adminPassword) fail("set DEVICES_FILE, or ADMIN_PASSWORD (with ADMIN_USERNAME) to register devices");
  const { accessToken } = login(S.adminUsername, S.adminPassword, "setup");
  const devices = [];
  for (let number = 1; number <= needed; number++) {
    const ref = { code: S.provisionCode, number };
    let res = rpc(
      "vigil.devices.v1.DeviceService/CreateDevice",
      { ...ref, kind: "load_test" },
      {
        token: accessToken,
        op: "setup",
        allowExisting: true,
      },
    );
    if (res.status === 409) {
      res = rpc(
        "vigil.devices.v1.DeviceService/RotateDeviceKey",
        { ...ref, gracePeriod: "0s" },
        {
          token: accessToken,
          op: "setup",
        },
      );
    }
    const apiKey = body(res)?.apiKey;
    if (res.status !== 200 || !apiKey) fail(failure(`register ${ref.code}-${number}`, res));
    devices.push({ ...ref, apiKey });
  }
  return { devices };
}

// Per VU: its device, its gRPC connection and what it has not had acked yet (kept across sessions).
// The service from the repository's protos, not server reflection (off on production receivers).
// load() belongs to the init context: one client per VU, connected on its first session.
const client = new grpc.Client();
client.load([import.meta.resolve("../../proto/").replace(/^file:\/\//, "")], "vigil/ingest/v1/ingest.proto");
let connected = false;
const state = { device: undefined, nextSeq: 1, lastTimeMs: 0, pending: new Map(), walk: [], failures: 0 };

function deviceOf(data) {
  const id = exec.vu.idInTest;
  const list = data.devices ?? fileDevices;
  const device = list[id - 1];
  if (!device) fail(`VU ${id} has no device: only ${list.length} devices for this run`);
  return device;
}

/** One stream session of INGEST_STREAM_SECONDS (shorter at the end of a fixed-length run). */
export function ingestSession(data, remainingMs = Number.POSITIVE_INFINITY) {
  state.device ??= deviceOf(data);
  if (!connected) {
    client.connect(S.receiver, connectParams);
    connected = true;
  }
  const sessionMs = Math.max(1000, Math.min(S.streamSeconds * 1000, remainingMs));
  const opened = Date.now();
  let welcomed = false;
  let closing = false;
  let ended = false;
  let window = 16;
  let inFlight = 0;
  let pausedUntil = 0;
  let tick;
  let sessionTimer;
  let giveUpTimer;
  let loggedRejects = 0;
  let reconnectAfterMs = 0;
  for (const p of state.pending.values()) p.sentAt = undefined;

  const stream = new grpc.Stream(client, METHOD, {
    metadata: { "x-api-key": state.device.apiKey },
    tags: { device: "vu" },
  });

  const flush = () => {
    if (!welcomed || ended || Date.now() < pausedUntil) return;
    for (const [seq, p] of state.pending) {
      if (inFlight >= window) break;
      if (p.sentAt !== undefined) continue;
      p.sentAt = Date.now();
      inFlight++;
      M.sent.add(1);
      stream.write({ batch: { seq: String(seq), series: p.series } });
    }
  };
  const endIfDone = () => {
    if (closing && !ended && inFlight === 0 && state.pending.size === 0) {
      ended = true;
      stream.end();
    }
  };
  const finish = () => {
    ended = true;
    clearInterval(tick);
    clearTimeout(sessionTimer);
    clearTimeout(giveUpTimer);
  };

  stream.on("data", (msg) => {
    const now = Date.now();
    if (msg.welcome) {
      welcomed = true;
      state.failures = 0;
      M.welcomeLatency.add(now - opened);
      const name = `${state.device.code}-${state.device.number}`;
      check(msg.welcome, { "welcome names the device": (w) => w.device === name }, { step: "welcome" });
      window = Math.max(1, msg.welcome.limits?.maxInFlightBatches ?? window);
      const durable = Number(msg.welcome.lastDurableSeq ?? 0);
      // Stored before: acked in a session that ended before its ack arrived.
      for (const seq of [...state.pending.keys()]) if (seq <= durable) state.pending.delete(seq);
      if (durable >= state.nextSeq) state.nextSeq = durable + 1;
      if (!closing) {
        tick = setInterval(() => {
          generate();
          flush();
        }, S.intervalMs);
        generate();
      }
      flush();
    } else if (msg.ack) {
      const seq = Number(msg.ack.seq);
      const p = state.pending.get(seq);
      if (!p) return;
      state.pending.delete(seq);
      inFlight--;
      M.acks.add(1);
      M.readingsAcked.add(p.readings);
      M.ackLatency.add(now - p.sentAt);
      if (msg.ack.duplicate) M.duplicateAcks.add(1);
      if (p.invalid) M.invalidAcked.add(1);
      flush();
      endIfDone();
    } else if (msg.reject) {
      const seq = Number(msg.reject.seq);
      const p = state.pending.get(seq);
      if (p) {
        state.pending.delete(seq);
        inFlight--;
      }
      if (p?.invalid) {
        M.expectedRejects.add(1);
      } else {
        M.unexpectedRejects.add(1, { code: String(msg.reject.code) });
        if (loggedRejects++ < 3) console.warn(`unexpected reject of seq ${seq}: ${msg.reject.reason}`);
      }
      flush();
      endIfDone();
    } else if (msg.throttle) {
      M.throttles.add(1);
      const p = state.pending.get(Number(msg.throttle.seq));
      if (p && p.sentAt !== undefined) {
        p.sentAt = undefined;
        inFlight--;
      }
      const wait = Number(msg.throttle.retryAfterMs ?? 100);
      pausedUntil = now + wait;
      setTimeout(flush, wait);
    } else if (msg.drain) {
      // The receiver is shutting down: send nothing more; the stream ends once it has answered.
      M.drains.add(1);
      closing = true;
      clearInterval(tick);
      pausedUntil = Number.POSITIVE_INFINITY;
      reconnectAfterMs = Number(msg.drain.reconnectAfterMs ?? 0);
    }
  });
  stream.on("error", (err) => {
    M.streamErrors.add(1, { code: String(err?.code ?? "unknown") });
    state.failures++;
    // Back off before the next session, as a device must: 1 s, doubling to 30 s.
    const backoffMs = Math.min(30_000, 1000 * 2 ** (state.failures - 1));
    if (state.failures <= 3 || state.failures % 10 === 0) {
      const label = `${state.device.code}-${state.device.number}`;
      console.warn(`stream of ${label} failed (${state.failures} in a row): ${err?.code} ${err?.message}`);
    }
    finish();
    setTimeout(() => {}, backoffMs);
  });
  stream.on("end", () => {
    finish();
    M.unackedAtEnd.add(state.pending.size);
    // After a Drain, wait as asked before the next session reconnects.
    if (reconnectAfterMs > 0) setTimeout(() => {}, reconnectAfterMs);
  });

  stream.write({ hello: { client: "k6", firmware: "load-tests" } });
  sessionTimer = setTimeout(() => {
    // Session over: no new batches; wait (bounded) for the answers to what was sent.
    closing = true;
    clearInterval(tick);
    flush();
    endIfDone();
    giveUpTimer = setTimeout(() => {
      if (!ended) {
        ended = true;
        stream.end();
      }
    }, S.ackWaitSeconds * 1000);
  }, sessionMs);
}

/** Adds one batch to the pending queue: BATCH_SIZE samples per sensor, spaced over the interval. */
function generate() {
  if (state.pending.size >= S.maxPending) {
    M.skipped.add(1);
    return;
  }
  const n = S.batchSize;
  const spacing = Math.max(1, Math.floor(S.intervalMs / n));
  const first = Math.max(state.lastTimeMs + 1, Date.now() - (n - 1) * spacing);
  const times = [];
  for (let i = 0; i < n; i++) times.push(String(first + i * spacing));
  state.lastTimeMs = first + (n - 1) * spacing;
  const seq = state.nextSeq++;
  const invalid = S.invalidEvery > 0 && seq % S.invalidEvery === 0;
  const series = S.sensors.map((sensor, k) => {
    let v = state.walk[k] ?? 50 + 10 * k;
    const values = [];
    for (let i = 0; i < n; i++) {
      v += (Math.random() - 0.5) * 2;
      values.push(Math.round(v * 100) / 100);
    }
    state.walk[k] = v;
    // A value that is not a finite number: the receiver must reject the batch.
    if (invalid && k === 0) values[0] = "NaN";
    return { sensor, timeUnixMs: times, values };
  });
  state.pending.set(seq, { series, readings: n * S.sensors.length, invalid, sentAt: undefined });
}
