export { createQueryApp, type QueryApp, type QueryDeps } from "./app.ts";
export { TokenSigner } from "./auth/token-signer.ts";
export { loadQueryConfig, type QueryConfig, queryEnv } from "./config.ts";
