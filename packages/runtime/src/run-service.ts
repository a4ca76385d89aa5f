import type { Logger } from "pino";
import { ConfigError } from "./env-config.ts";

/** What a service's createApp returns. */
export interface App {
  start(): Promise<void>;
  /** Graceful shutdown; must finish within the grace period. */
  stop(): Promise<void>;
  /** Resolves when the app has finished on its own (a timed run); the process then stops and exits 0. */
  readonly finished?: Promise<void>;
}

export interface RunServiceOptions {
  /** Builds the app; configuration errors thrown here exit with code 2. */
  create(): { app: App; logger: Logger };
  /** Upper bound for stop() after SIGTERM/SIGINT before exiting anyway. */
  shutdownTimeoutMs?: number;
}

/**
 * The process shell every main.ts uses: start the app, stop it on SIGTERM or
 * SIGINT, exit non-zero on a start failure, a crash or a stop that overruns
 * the grace period. This and main.ts are the only code that touches
 * `process`: apps stay testable in-process.
 */
export async function runService(options: RunServiceOptions): Promise<void> {
  let built: { app: App; logger: Logger };
  try {
    built = options.create();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const { app, logger } = built;
  let stopping = false;
  const stop = async (reason: string, code: number) => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason }, "shutting down");
    const timer = setTimeout(() => {
      logger.error("shutdown took too long, exiting");
      process.exit(1);
    }, options.shutdownTimeoutMs ?? 25_000);
    timer.unref();
    try {
      await app.stop();
    } catch (err) {
      logger.error({ err }, "error during shutdown");
      code = 1;
    }
    await flushTelemetry();
    logger.flush();
    process.exit(code);
  };
  process.once("SIGTERM", () => void stop("SIGTERM", 0));
  process.once("SIGINT", () => void stop("SIGINT", 0));
  process.on("uncaughtException", (err) => {
    logger.fatal({ err }, "uncaught exception");
    void stop("uncaughtException", 1);
  });
  process.on("unhandledRejection", (err) => {
    logger.fatal({ err }, "unhandled rejection");
    void stop("unhandledRejection", 1);
  });
  try {
    await app.start();
  } catch (err) {
    logger.fatal({ err }, "failed to start");
    await stop("start failed", 1);
    return;
  }
  void app.finished?.then(() => stop("finished", 0));
}

/** Exports the spans still buffered, when tracing was started (@vigil/telemetry/register). */
async function flushTelemetry(): Promise<void> {
  const shutdown = (globalThis as Record<symbol, unknown>)[Symbol.for("vigil.telemetry.shutdown")];
  if (typeof shutdown === "function")
    await Promise.race([shutdown(), new Promise((r) => setTimeout(r, 3_000))]).catch(() => {});
}
