import { createLogger, runService } from "@vigil/runtime";
import { createWriterApp } from "./app.ts";
import { loadWriterConfig } from "./config.ts";

await runService({
  create() {
    const config = loadWriterConfig(process.env);
    const logger = createLogger({ name: "writer", level: config.LOG_LEVEL });
    return { app: createWriterApp(config, { logger }), logger };
  },
});
