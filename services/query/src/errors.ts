import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "@vigil/runtime";

/** A request field is missing or wrong; the message names the field. */
export class InvalidArgumentError extends Error {
  override name = "InvalidArgumentError";
  readonly field: string;
  constructor(field: string, problem: string) {
    super(`${field}: ${problem}`);
    this.field = field;
  }
}

/** The requested thing does not exist. */
export class NotFoundError extends Error {
  override name = "NotFoundError";
}

/** The operation cannot run in the current state. */
export class FailedPreconditionError extends Error {
  override name = "FailedPreconditionError";
}

/** A dependency (database, NATS) is down; the client may retry. */
export class UnavailableError extends Error {
  override name = "UnavailableError";
}

/**
 * The one table from domain errors to Connect codes. Anything not listed is
 * an Internal error: the client sees a generic message, the log the cause.
 */
const codes: Array<[new (...args: never[]) => Error, Code]> = [
  [InvalidArgumentError, Code.InvalidArgument],
  [NotFoundError, Code.NotFound],
  [FailedPreconditionError, Code.FailedPrecondition],
  [UnavailableError, Code.Unavailable],
];

export function toConnectError(err: unknown, log: Logger, procedure: string): ConnectError {
  if (err instanceof ConnectError) return err;
  for (const [type, code] of codes) {
    if (err instanceof type) return new ConnectError(err.message, code);
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
