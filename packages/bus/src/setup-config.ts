import { parseEnvConfig } from "@vigil/runtime";
import { z } from "zod";
import {
  consumerEnv,
  consumerSettings,
  feedEnv,
  feedSettings,
  natsTlsEnv,
  natsTls as natsTlsFrom,
  streamEnv,
  streamSettings,
} from "./bus-config.ts";
import type { JetStreamSetupOptions } from "./jetstream-bus.ts";
import { natsAuth, natsAuthEnv } from "./nats-auth.ts";

/** What `vigil nats setup` reads: the same variables, with the same defaults, as the components. */
const setupEnv = z.object({ ...streamEnv, ...consumerEnv, ...feedEnv, ...natsTlsEnv, ...natsAuthEnv });

/** The admin's setup from the environment; throws ConfigError naming every bad variable. */
export function natsSetupOptions(env: Record<string, string | undefined>, feed: boolean): JetStreamSetupOptions {
  const config = parseEnvConfig(setupEnv, env);
  const tls = natsTlsFrom(config);
  const auth = natsAuth(config);
  return {
    servers: config.NATS_URL,
    name: "vigil-nats-setup",
    ...(tls ? { tls } : {}),
    ...(auth ? { auth } : {}),
    stream: streamSettings(config),
    consumer: consumerSettings(config),
    ...(feed ? { feed: feedSettings(config) } : {}),
  };
}
