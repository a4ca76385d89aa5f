import { createLogger, runService } from "@vigil/runtime";
import { createQueryApp } from "./app.ts";
import { loadQueryConfig } from "./config.ts";

await runService({
  create() {
    const config = loadQueryConfig(process.env);
    const logger = createLogger({ name: "query", level: config.LOG_LEVEL });
    return { app: createQueryApp(config, { logger }), logger };
  },
});
