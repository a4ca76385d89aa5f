import { readFileSync } from "node:fs";
import { envBool, envInt, envOptionalString } from "@vigil/runtime";
import type { NatsTls } from "./bus-config.ts";
import { natsTls } from "./bus-config.ts";
import type { NatsComponent } from "./permissions.ts";

/**
 * Who a component is to NATS (every component that connects): a user and
 * its password, inline or (preferred) from a file such as a mounted Secret.
 * The file is read again at every reconnect, so a rotated password takes
 * effect without a restart. Unset: no credentials (a NATS without
 * authorization, such as the quick start's on loopback).
 *
 * NATS_MANAGE_STREAMS=false: the component leaves the streams and the
 * writers' consumer to `vigil nats setup` (run with the admin user) and only
 * checks they exist, waiting up to NATS_SETUP_WAIT_MS for them, as its NATS
 * user may not create them.
 */
export const natsAuthEnv = {
  NATS_USER: envOptionalString(),
  NATS_PASSWORD: envOptionalString(),
  NATS_PASSWORD_FILE: envOptionalString(),
  NATS_MANAGE_STREAMS: envBool(true),
  NATS_SETUP_WAIT_MS: envInt(600_000, 0, 3_600_000),
};

export interface NatsAuth {
  user: string;
  /** Called at every (re)connect. */
  password: () => string;
}

type AuthEnv = {
  NATS_USER?: string | undefined;
  NATS_PASSWORD?: string | undefined;
  NATS_PASSWORD_FILE?: string | undefined;
};

/** The credentials from NATS_USER and NATS_PASSWORD(_FILE), or undefined when no user is set. */
export function natsAuth(env: AuthEnv): NatsAuth | undefined {
  const { NATS_USER: user, NATS_PASSWORD: inline, NATS_PASSWORD_FILE: file } = env;
  if (!user) {
    if (inline || file) throw new Error("NATS_PASSWORD and NATS_PASSWORD_FILE need NATS_USER");
    return undefined;
  }
  if (inline && file) throw new Error("set NATS_PASSWORD or NATS_PASSWORD_FILE, not both");
  if (!inline && !file) throw new Error("NATS_USER needs NATS_PASSWORD_FILE (or NATS_PASSWORD)");
  if (inline) return { user, password: () => inline };
  const read = () => {
    try {
      return readFileSync(file!, "utf8").trim();
    } catch (err) {
      // The path, never the content.
      throw new Error(`cannot read NATS_PASSWORD_FILE ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
    }
  };
  // Fail at start, not at the first reconnect.
  if (read() === "") throw new Error(`NATS_PASSWORD_FILE ${file} is empty`);
  return { user, password: read };
}

/** How one component connects: TLS, credentials, its private inbox, and whether it manages the streams. */
export interface NatsAccess {
  component: NatsComponent;
  tls: NatsTls | undefined;
  auth: NatsAuth | undefined;
  manageStreams: boolean;
  setupWaitMs: number;
}

export function natsAccess(
  env: AuthEnv & {
    NATS_TLS_CA_FILE?: string | undefined;
    NATS_TLS_CERT_FILE?: string | undefined;
    NATS_TLS_KEY_FILE?: string | undefined;
    NATS_MANAGE_STREAMS: boolean;
    NATS_SETUP_WAIT_MS: number;
  },
  component: NatsComponent,
): NatsAccess {
  return {
    component,
    tls: natsTls(env),
    auth: natsAuth(env),
    manageStreams: env.NATS_MANAGE_STREAMS,
    setupWaitMs: env.NATS_SETUP_WAIT_MS,
  };
}
