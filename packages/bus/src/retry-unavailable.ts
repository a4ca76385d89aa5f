/**
 * Whether a JetStream API call failed only because the cluster cannot answer
 * yet: a request that timed out, nobody listening for it, or JetStream saying
 * it is temporarily unavailable (503, e.g. while its servers elect a leader
 * right after they start). Anything else (a stream configured differently, a
 * permission) is not waited out.
 */
export function isJetStreamUnavailable(err: unknown): boolean {
  // nats.js wraps a request's TimeoutError or NoResponders in a RequestError (its cause).
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (["TimeoutError", "NoResponders", "NoRespondersError"].includes(e.name)) return true;
    const code = (e as { code?: unknown }).code;
    if (code === 503 || code === "503") return true;
    if (/\b(timeout|no responders|temporarily unavailable)\b/i.test(e.message)) return true;
  }
  return false;
}

export interface RetryUnavailableOptions {
  /** What is being done, for the log line ("open the alerters' feed"). */
  what: string;
  log: { warn(fields: Record<string, unknown>, message: string): void };
  /** Stops waiting (shutting down): the last error is thrown. */
  signal?: AbortSignal;
  initialDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * Runs `call` until it succeeds, waiting out JetStream being unavailable with
 * capped exponential backoff (±20 % jitter) and a log line per failure; other
 * errors, and any error once `signal` is aborted, are thrown at once. For
 * what a service does at start: a pod started with a NATS cluster that is
 * still forming waits (alive, not ready) instead of exiting.
 */
export async function retryWhileUnavailable<T>(call: () => Promise<T>, options: RetryUnavailableOptions): Promise<T> {
  const maxDelayMs = options.maxDelayMs ?? 15_000;
  let delayMs = options.initialDelayMs ?? 1_000;
  for (;;) {
    try {
      return await call();
    } catch (err) {
      if (!isJetStreamUnavailable(err) || options.signal?.aborted) throw err;
      const pause = Math.round(delayMs * (0.8 + Math.random() * 0.4));
      options.log.warn(
        { reason: (err as Error).message, retryInMs: pause },
        `waiting for NATS JetStream: could not ${options.what} yet`,
      );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, pause);
        function done() {
          clearTimeout(timer);
          options.signal?.removeEventListener("abort", done);
          resolve();
        }
        options.signal?.addEventListener("abort", done, { once: true });
      });
      if (options.signal?.aborted) throw err;
      delayMs = Math.min(maxDelayMs, delayMs * 2);
    }
  }
}
