import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { AlertError } from "@vigil/alerts";
import { DeviceError } from "@vigil/devices";
import { FleetError } from "@vigil/fleet";
import { ReplayError } from "@vigil/ingest";
import { MaintenanceError } from "@vigil/maintenance";
import { ProcedureError } from "@vigil/procedures";
import { errorDetails } from "@vigil/proto";
import type { Logger } from "@vigil/runtime";
import { UserError } from "@vigil/users";

/**
 * A request field is missing or wrong; the message names the field, and the
 * error carries a google.rpc.BadRequest field violation for clients to show
 * next to the field.
 */
export class InvalidArgumentError extends Error {
  override name = "InvalidArgumentError";
  readonly field: string;
  readonly problem: string;
  constructor(field: string, problem: string) {
    super(`${field}: ${problem}`);
    this.field = field;
    this.problem = problem;
  }
}

/** google.rpc.BadRequest with one field violation (field path in proto names, such as "filter.device_code"). */
export function badRequestDetail(field: string, description: string) {
  return {
    desc: errorDetails.BadRequestSchema,
    value: create(errorDetails.BadRequestSchema, { fieldViolations: [{ field, description }] }),
  };
}

/** google.rpc.RetryInfo: when the client may try again. */
export function retryInfoDetail(delayMs: number) {
  return {
    desc: errorDetails.RetryInfoSchema,
    value: create(errorDetails.RetryInfoSchema, { retryDelay: durationFromMs(delayMs) }),
  };
}

/** The request is valid but cannot apply to the data as it is. */
export class FailedPreconditionError extends Error {
  override name = "FailedPreconditionError";
}

/** What the request names does not exist. */
export class NotFoundError extends Error {
  override name = "NotFoundError";
}
/** A dependency (database, NATS) is down; the client may retry. */
export class UnavailableError extends Error {
  override name = "UnavailableError";
}

const deviceCodes: Record<DeviceError["kind"], Code> = {
  invalid: Code.InvalidArgument,
  exists: Code.AlreadyExists,
  not_found: Code.NotFound,
  failed_precondition: Code.FailedPrecondition,
};

const userCodes: Record<UserError["kind"], Code> = {
  invalid: Code.InvalidArgument,
  exists: Code.AlreadyExists,
  not_found: Code.NotFound,
  unauthenticated: Code.Unauthenticated,
  failed_precondition: Code.FailedPrecondition,
};

const alertCodes: Record<AlertError["kind"], Code> = {
  invalid: Code.InvalidArgument,
  not_found: Code.NotFound,
  exists: Code.AlreadyExists,
  failed_precondition: Code.FailedPrecondition,
};

const replayCodes: Record<ReplayError["kind"], Code> = {
  not_found: Code.NotFound,
  failed_precondition: Code.FailedPrecondition,
};

const fleetCodes: Record<FleetError["kind"], Code> = {
  invalid: Code.InvalidArgument,
  exists: Code.AlreadyExists,
  not_found: Code.NotFound,
};

const procedureCodes: Record<ProcedureError["kind"], Code> = {
  invalid: Code.InvalidArgument,
  exists: Code.AlreadyExists,
  not_found: Code.NotFound,
  failed_precondition: Code.FailedPrecondition,
};

const maintenanceCodes: Record<MaintenanceError["kind"], Code> = {
  invalid: Code.InvalidArgument,
  not_found: Code.NotFound,
  failed_precondition: Code.FailedPrecondition,
};

/**
 * The one table from domain errors to Connect codes. Anything not listed is
 * an Internal error: the client sees a generic message, the log the cause.
 */
function codeOf(err: unknown): Code | undefined {
  if (err instanceof InvalidArgumentError) return Code.InvalidArgument;
  // The client went away mid-response (or was cut off as too slow): nothing to report.
  if (["ECANCELED", "ECONNRESET", "EPIPE", "ERR_STREAM_DESTROYED"].includes((err as { code?: string })?.code ?? "")) {
    return Code.Canceled;
  }
  if (err instanceof FailedPreconditionError) return Code.FailedPrecondition;
  if (err instanceof NotFoundError) return Code.NotFound;
  // PostgreSQL cancelled the statement: it ran past QUERY_STATEMENT_TIMEOUT_MS.
  if ((err as { code?: string })?.code === "57014") return Code.DeadlineExceeded;
  // A data exception (SQLSTATE class 22: a number out of range, a NUL in a string, a bad date) is a
  // value from the request that no check caught first; the client's error, not a server fault.
  if (isDataException(err)) return Code.InvalidArgument;
  if (err instanceof UnavailableError) return Code.Unavailable;
  if (err instanceof UserError) return userCodes[err.kind];
  if (err instanceof DeviceError) return deviceCodes[err.kind];
  if (err instanceof ReplayError) return replayCodes[err.kind];
  if (err instanceof FleetError) return fleetCodes[err.kind];
  if (err instanceof ProcedureError) return procedureCodes[err.kind];
  if (err instanceof MaintenanceError) return maintenanceCodes[err.kind];
  if (err instanceof AlertError) return alertCodes[err.kind];
  return undefined;
}

/** A PostgreSQL data exception: SQLSTATE class 22. */
function isDataException(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return (
    typeof code === "string" && /^22[0-9A-Z]{3}$/.test(code) && (err as { severity?: unknown }).severity !== undefined
  );
}

export function toConnectError(err: unknown, log: Logger, procedure: string): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof InvalidArgumentError) {
    return new ConnectError(err.message, Code.InvalidArgument, undefined, [badRequestDetail(err.field, err.problem)]);
  }
  const code = codeOf(err);
  if (isDataException(err)) {
    log.warn({ err, procedure }, "a request value reached the database unchecked");
    return new ConnectError("a value in the request is out of range or not valid text", code);
  }
  if (code === Code.DeadlineExceeded) {
    return new ConnectError("the query ran longer than this server allows: narrow the filter or the time range", code);
  }
  if (code !== undefined) return new ConnectError((err as Error).message, code);
  // PostgreSQL's undefined_table: a database no `vigil migrate` has brought to this version. Logged
  // with its cause (a bug naming a wrong table looks the same), told to the caller as what to do.
  if ((err as { code?: unknown })?.code === "42P01") {
    log.error({ err, procedure }, "database schema missing or old: run vigil migrate");
    return new ConnectError("the database is not migrated: run `vigil migrate`", Code.FailedPrecondition);
  }
  log.error({ err, procedure }, "request failed");
  return new ConnectError("internal error", Code.Internal);
}

/** Maps every error a handler throws through the table above. */
export function errorInterceptor(log: Logger): Interceptor {
  return (next) => async (req) => {
    try {
      const res = await next(req);
      if (!res.stream) return res;
      return { ...res, message: mapStreamErrors(res.message, log, req.method.name) };
    } catch (err) {
      throw toConnectError(err, log, req.method.name);
    }
  };
}

async function* mapStreamErrors<T>(messages: AsyncIterable<T>, log: Logger, procedure: string): AsyncIterable<T> {
  try {
    yield* messages;
  } catch (err) {
    throw toConnectError(err, log, procedure);
  }
}
