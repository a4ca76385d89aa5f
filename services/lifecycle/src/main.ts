import { createLogger, runService } from "@vigil/runtime";
import { createLifecycleApp } from "./app.ts";
import { loadLifecycleConfig } from "./config.ts";

await runService({
  create() {
    const config = loadLifecycleConfig(process.env);
    const logger = createLogger({ name: "lifecycle", level: config.LOG_LEVEL });
    return { app: createLifecycleApp(config, { logger }), logger };
  },
});
