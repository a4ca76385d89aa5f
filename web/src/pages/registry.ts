/**
 * Every page of the console: one line each (a folder under src/pages whose
 * index.ts default-exports a ConsolePage). Navigation order comes from each
 * page's nav.order, not from this list.
 */
export { default as account } from "./account/index.ts";
export { default as audit } from "./audit/index.ts";
export { default as deadLetters } from "./dead-letters/index.ts";
export { default as device } from "./device/index.ts";
export { default as fleet } from "./fleet/index.ts";
export { default as users } from "./users/index.ts";
