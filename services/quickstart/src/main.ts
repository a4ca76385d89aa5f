import { createLogger, runService } from "@vigil/runtime";
import { createQuickstartApp } from "./app.ts";
import { loadQuickstartConfig } from "./config.ts";

await runService({
  create() {
    const config = loadQuickstartConfig(process.env);
    const logger = createLogger({ name: "quickstart", level: config.LOG_LEVEL });
    const app = createQuickstartApp(config, {
      logger,
      env: process.env,
      print: (line) => process.stdout.write(`${line}\n`),
    });
    return { app, logger };
  },
  shutdownTimeoutMs: 30_000,
});
