export { createQuickstartApp, type QuickstartApp, type QuickstartDeps } from "./app.ts";
export { loadQuickstartConfig, type QuickstartConfig, quickstartEnv } from "./config.ts";
