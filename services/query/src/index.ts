export { createQueryApp, type QueryApp, type QueryDeps } from "./app.ts";
export { loadQueryConfig, type QueryConfig, queryEnv } from "./config.ts";
