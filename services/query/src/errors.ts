import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { AlertError } from "@vigil/alerts";
import { DeviceError } from "@vigil/devices";
import { ReplayError } from "@vigil/ingest";
import type { Logger } from "@vigil/runtime";
import { UserError } from "@vigil/users";

/** A request field is missing or wrong; the message names the field. */
export class InvalidArgumentError extends Error {
  override name = "InvalidArgumentError";
  readonly field: string;
  constructor(field: string, problem: string) {
    super(`${field}: ${problem}`);
    this.field = field;
  }
}

/** The request is valid but cannot apply to the data as it is. */
export class FailedPreconditionError extends Error {
  override name = "FailedPreconditionError";
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
  if (err instanceof UnavailableError) return Code.Unavailable;
  if (err instanceof UserError) return userCodes[err.kind];
  if (err instanceof DeviceError) return deviceCodes[err.kind];
  if (err instanceof ReplayError) return replayCodes[err.kind];
  if (err instanceof AlertError) return alertCodes[err.kind];
  return undefined;
}

export function toConnectError(err: unknown, log: Logger, procedure: string): ConnectError {
  if (err instanceof ConnectError) return err;
  const code = codeOf(err);
  if (code !== undefined) return new ConnectError((err as Error).message, code);
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
