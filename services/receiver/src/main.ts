import { createLogger, runService } from "@vigil/runtime";
import { createReceiverApp } from "./app.ts";
import { loadReceiverConfig } from "./config.ts";

await runService({
  create() {
    const config = loadReceiverConfig(process.env);
    const logger = createLogger({ name: "receiver", level: config.LOG_LEVEL });
    return { app: createReceiverApp(config, { logger }), logger };
  },
  shutdownTimeoutMs: Number(process.env.RECEIVER_DRAIN_TIMEOUT_MS ?? 10_000) + 5_000,
});
