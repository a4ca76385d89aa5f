export { createReceiverApp, type ReceiverApp, type ReceiverDeps } from "./app.ts";
export { loadReceiverConfig, type ReceiverConfig, receiverEnv } from "./config.ts";
