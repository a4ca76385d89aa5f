import { readFileSync } from "node:fs";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { AuthService, MaintenanceKind, MaintenanceService, OutcomeResult, ProcedureService } from "@vigil/proto";
import type { Logger } from "@vigil/runtime";

export interface RecordedOutcome {
  result: "success" | "complications" | "converted" | "aborted";
  complicationGrade: number;
  bloodLossMl: number;
  codes: string[];
}

export interface RecordedMaintenance {
  kind: "preventive" | "corrective";
  startMs: number;
  downtimeMs: number;
  components: string[];
  parts: Array<{ partNumber: string; quantity: number }>;
  costMinor: number;
  currency: string;
  technician: string;
  notes: string;
}

/** Where a simulated robot's procedures and maintenance are recorded: the query service's API. */
export interface ProcedureRecorder {
  /** The new procedure's id; undefined when it could not be recorded. */
  start(
    device: { code: string; number: number },
    p: { type: string; surgeonId: string; patientId: string },
  ): Promise<string | undefined>;
  end(id: string, aborted: boolean, outcome: RecordedOutcome): Promise<void>;
  maintenance(device: { code: string; number: number }, record: RecordedMaintenance): Promise<void>;
}

/** A robot never waits longer than this for the API. */
const CALL_TIMEOUT_MS = 5_000;

const RESULTS = {
  success: OutcomeResult.SUCCESS,
  complications: OutcomeResult.COMPLICATIONS,
  converted: OutcomeResult.CONVERTED,
  aborted: OutcomeResult.ABORTED,
} as const;

/**
 * Records through ProcedureService and MaintenanceService over Connect, as
 * the hospital's systems would, signed in as a user with the
 * procedures:write and maintenance:write scopes (signing in again when the
 * access token runs out). A failed call is logged, never thrown: a robot
 * keeps streaming whatever the API says.
 */
export function connectRecorder(options: {
  baseUrl: string;
  username: string;
  password: string;
  log: Logger;
}): ProcedureRecorder {
  let token: Promise<string> | undefined;
  const transport = (interceptors: Interceptor[]) =>
    createConnectTransport({ baseUrl: options.baseUrl, httpVersion: "1.1", interceptors });
  const auth = createClient(AuthService, transport([]));
  const signIn = () => {
    token = auth
      .login({ username: options.username, password: options.password }, { timeoutMs: CALL_TIMEOUT_MS })
      .then((r) => r.tokens?.accessToken ?? "");
    token.catch(() => {
      token = undefined;
    });
    return token;
  };
  const bearer: Interceptor = (next) => async (req) => {
    req.header.set("authorization", `Bearer ${await (token ?? signIn())}`);
    return next(req);
  };
  const procedures: Client<typeof ProcedureService> = createClient(ProcedureService, transport([bearer]));
  const maintenance: Client<typeof MaintenanceService> = createClient(MaintenanceService, transport([bearer]));
  const warned = new Set<Code>();
  async function call<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const e = ConnectError.from(err);
        if (e.code === Code.Unauthenticated && attempt === 0) {
          await signIn().catch(() => {});
          continue;
        }
        // Say it once per kind of failure (a missing scope would otherwise fill the log).
        if (!warned.has(e.code)) {
          warned.add(e.code);
          options.log.warn({ err: e.message, what }, "simulator could not record; robots keep streaming");
        }
        return undefined;
      }
    }
    return undefined;
  }
  return {
    async start(device, p) {
      const r = await call("StartProcedure", () =>
        procedures.startProcedure(
          { deviceCode: device.code, deviceNumber: device.number, ...p },
          { timeoutMs: CALL_TIMEOUT_MS },
        ),
      );
      return r?.procedure?.id;
    },
    async end(id, aborted, outcome) {
      await call("EndProcedure", () => procedures.endProcedure({ id, aborted }, { timeoutMs: CALL_TIMEOUT_MS }));
      await call("RecordOutcome", () =>
        procedures.recordOutcome(
          {
            id,
            outcome: {
              result: RESULTS[outcome.result],
              complicationGrade: outcome.complicationGrade,
              bloodLossMl: outcome.bloodLossMl,
              codes: outcome.codes,
            },
          },
          { timeoutMs: CALL_TIMEOUT_MS },
        ),
      );
    },
    async maintenance(device, m) {
      await call("RecordMaintenance", () =>
        maintenance.recordMaintenance(
          {
            record: {
              deviceCode: device.code,
              deviceNumber: device.number,
              kind: m.kind === "corrective" ? MaintenanceKind.CORRECTIVE : MaintenanceKind.PREVENTIVE,
              startTime: timestampFromMs(m.startMs),
              downtime: { seconds: BigInt(Math.round(m.downtimeMs / 1000)), nanos: 0 },
              components: m.components,
              parts: m.parts,
              costMinor: BigInt(m.costMinor),
              currency: m.currency,
              technician: m.technician,
              notes: m.notes,
            },
          },
          { timeoutMs: CALL_TIMEOUT_MS },
        ),
      );
    },
  };
}

/** A password given inline or as a file (the file wins). */
export function passwordFrom(inline: string | undefined, file: string | undefined): string | undefined {
  return file ? readFileSync(file, "utf8").trim() : inline;
}
