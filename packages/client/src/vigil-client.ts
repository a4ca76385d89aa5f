import { type Client, Code, ConnectError, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { AlertService } from "../../proto/src/gen/vigil/alerts/v1/alerts_pb.ts";
import { AuditService } from "../../proto/src/gen/vigil/audit/v1/audit_pb.ts";
import { AuthService, type Tokens, UserService } from "../../proto/src/gen/vigil/auth/v1/auth_pb.ts";
import { DeviceService } from "../../proto/src/gen/vigil/devices/v1/devices_pb.ts";
import { FleetService } from "../../proto/src/gen/vigil/fleet/v1/fleet_pb.ts";
import { DeadLetterService } from "../../proto/src/gen/vigil/ingest/v1/dead_letters_pb.ts";
import { MaintenanceService } from "../../proto/src/gen/vigil/maintenance/v1/maintenance_pb.ts";
import { ProcedureService } from "../../proto/src/gen/vigil/procedures/v1/procedures_pb.ts";
import { ReadingService } from "../../proto/src/gen/vigil/readings/v1/readings_pb.ts";
import { memoryStore, TokenSession, type TokenStore } from "./token-session.ts";

export interface VigilClientOptions {
  /** The query service, such as `http://127.0.0.1:8080` or `https://vigil.example.com`. */
  baseUrl: string;
  /**
   * Makes the transport from the interceptors it must carry. Default: Connect
   * over `fetch` (`@connectrpc/connect-web`), which works in browsers and in
   * Node.js. In Node.js, `createConnectTransport` or `createGrpcTransport` of
   * `@connectrpc/connect-node` can be used instead.
   */
  transport?: (options: { baseUrl: string; interceptors: Interceptor[] }) => Transport;
  /** Interceptors run before the session's (outermost first). */
  interceptors?: Interceptor[];
  /** Where the tokens are kept; default in memory. */
  store?: TokenStore;
  /** Tokens of an earlier sign-in, for the default in-memory store. */
  tokens?: Tokens;
  /** Refresh the access token this long before it expires (default 30 s). */
  refreshBeforeMs?: number;
}

/** Typed clients of every service of the query API, sharing one signed-in session. */
export interface VigilClient {
  readonly readings: Client<typeof ReadingService>;
  readonly devices: Client<typeof DeviceService>;
  readonly deadLetters: Client<typeof DeadLetterService>;
  readonly audit: Client<typeof AuditService>;
  readonly alerts: Client<typeof AlertService>;
  readonly auth: Client<typeof AuthService>;
  /** People's accounts, for admins: list, disable, enable, delete, change role, reset password. */
  readonly users: Client<typeof UserService>;
  /** Sites and the fleet summary. */
  readonly fleet: Client<typeof FleetService>;
  /** Procedures, outcomes and a procedure's telemetry. */
  readonly procedures: Client<typeof ProcedureService>;
  /** Maintenance records and forecasts. */
  readonly maintenance: Client<typeof MaintenanceService>;
  readonly session: TokenSession;
  /** Signs in; later calls carry the access token, refreshed before it expires. */
  login(username: string, password: string): Promise<Tokens>;
  /** Ends the sign-in on the server and forgets the tokens. */
  logout(): Promise<void>;
  /**
   * Changes the signed-in user's password. The server ends every other
   * session of the user and returns a new sign-in, which this session keeps.
   */
  changePassword(currentPassword: string, newPassword: string): Promise<Tokens>;
}

/**
 * A client of the Vigil query API.
 *
 * ```ts
 * const vigil = createVigilClient({ baseUrl: "http://127.0.0.1:8080" });
 * await vigil.login("admin", password);
 * const { readings } = await vigil.readings.listReadings({ pageSize: 5 });
 * ```
 */
export function createVigilClient(options: VigilClientOptions): VigilClient {
  const makeTransport =
    options.transport ??
    ((o: { baseUrl: string; interceptors: Interceptor[] }) =>
      createConnectTransport({ baseUrl: o.baseUrl, interceptors: o.interceptors }));
  const extra = options.interceptors ?? [];
  // Sign-in, refresh and logout travel without the session's token.
  const anonymous = makeTransport({ baseUrl: options.baseUrl, interceptors: extra });
  const session = new TokenSession({
    auth: createClient(AuthService, anonymous),
    store: options.store ?? memoryStore(options.tokens),
    refreshBeforeMs: options.refreshBeforeMs,
  });
  const transport = makeTransport({ baseUrl: options.baseUrl, interceptors: [...extra, session.interceptor()] });
  const auth = createClient(AuthService, transport);
  return {
    readings: createClient(ReadingService, transport),
    devices: createClient(DeviceService, transport),
    deadLetters: createClient(DeadLetterService, transport),
    audit: createClient(AuditService, transport),
    alerts: createClient(AlertService, transport),
    auth,
    users: createClient(UserService, transport),
    fleet: createClient(FleetService, transport),
    procedures: createClient(ProcedureService, transport),
    maintenance: createClient(MaintenanceService, transport),
    session,
    login: (username, password) => session.login(username, password),
    logout: () => session.logout(),
    async changePassword(currentPassword, newPassword) {
      const { tokens } = await auth.changePassword({ currentPassword, newPassword });
      if (!tokens) throw new ConnectError("the server returned no tokens", Code.Internal);
      await session.keep(tokens);
      return tokens;
    },
  };
}
