import "./provided-context.ts";

export { ensureTools, type Tool } from "./ensure-tools.ts";
export { freePort } from "./free-port.ts";
export { checkLoss, countReadings, type LossReport } from "./loss-check.ts";
export { type NatsServer, type NatsServerOptions, startNats } from "./nats-server.ts";
export {
  type OidcTestClaims,
  type OidcTestProvider,
  type OidcTestProviderOptions,
  startOidcProvider,
} from "./oidc-provider.ts";
export { type CollectedSpan, type OtlpReceiver, startOtlpReceiver } from "./otlp-receiver.ts";
export {
  type PostgresServer,
  type PostgresServerOptions,
  postgresBinDir,
  startPostgres,
  TIMESCALEDB_TOOLS_DIR,
  timescaledbBinDir,
} from "./postgres-server.ts";
export { exited, findExecutable, repoRoot, waitFor } from "./process-tools.ts";
export { type S3Server, startS3 } from "./s3-server.ts";
export { type ScriptArgs, scriptArgs } from "./script-args.ts";
export { type ServiceProcess, startServiceProcess } from "./service-process.ts";
export { startTcpProxy, type TcpProxy } from "./tcp-proxy.ts";
export { TestBrowser } from "./test-browser.ts";
export { createTestDatabase } from "./test-database.ts";
export { TIMESCALEDB_MISSING, timescaleServer } from "./timescale-server.ts";
