import { createLogger, runService } from "@vigil/runtime";
import { createMaintainerApp } from "./app.ts";
import { loadMaintainerConfig } from "./config.ts";

await runService({
  create() {
    const config = loadMaintainerConfig(process.env);
    const logger = createLogger({ name: "maintainer", level: config.LOG_LEVEL });
    return { app: createMaintainerApp(config, { logger }), logger };
  },
});
