import { createLogger, runService } from "@vigil/runtime";
import { createAlerterApp } from "./app.ts";
import { loadAlerterConfig } from "./config.ts";

await runService({
  create() {
    const config = loadAlerterConfig(process.env);
    const logger = createLogger({ name: "alerter", level: config.LOG_LEVEL });
    return { app: createAlerterApp(config, { logger }), logger };
  },
});
