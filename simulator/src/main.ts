import { ConfigError, createLogger, runService } from "@vigil/runtime";
import { createSimulatorApp } from "./app.ts";
import { loadSimulatorConfig, USAGE } from "./config.ts";

if (process.argv.includes("--help")) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

await runService({
  create() {
    let config: ReturnType<typeof loadSimulatorConfig>;
    try {
      config = loadSimulatorConfig(process.env, process.argv.slice(2));
    } catch (err) {
      throw err instanceof ConfigError ? err : new ConfigError(`${(err as Error).message}\n${USAGE}`);
    }
    const logger = createLogger({ name: "simulator", level: config.LOG_LEVEL });
    const app = createSimulatorApp(config, {
      logger,
      printSummary: (summary) => process.stdout.write(`${JSON.stringify({ summary })}\n`),
    });
    return { app, logger };
  },
});
