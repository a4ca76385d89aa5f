import http from "node:http";
import type { AddressInfo } from "node:net";
import { type AlerterApp, createAlerterApp, loadAlerterConfig } from "@vigil/alerter";
import { createLogger } from "@vigil/runtime";
import { Webhook } from "standardwebhooks";
import { type Pipeline, roleUrl } from "./pipeline.ts";

/**
 * Starts an alerter in this process against the pipeline's database and NATS,
 * signed in as its own role (vigil_alerter) as the chart runs it, so every
 * alert test also checks its grants.
 */
export async function startAlerter(pipeline: Pipeline, env: Record<string, string> = {}): Promise<AlerterApp> {
  const config = loadAlerterConfig({
    DATABASE_URL: pipeline.databaseUrl.startsWith("postgres")
      ? roleUrl(pipeline.databaseUrl, "alerter")
      : pipeline.databaseUrl,
    NATS_URL: pipeline.natsUrl,
    ALERTER_OPS_PORT: "0",
    ALERTER_OPS_HOST: "127.0.0.1",
    ALERTER_PARTITIONS: "4",
    ALERTER_RULES_REFRESH_MS: "300",
    ALERTER_LEASE_TTL_MS: "2000",
    ALERTER_CHECKPOINT_INTERVAL_MS: "500",
    ALERTER_ABSENCE_GRACE_MS: "500",
    ALERTER_WEBHOOK_ALLOWED_CIDRS: "127.0.0.1/32",
    ALERTER_LOG_ALERTS: "false",
    ...env,
  });
  const app = createAlerterApp(config, {
    logger: createLogger({ name: "alerter", level: process.env.E2E_LOG_LEVEL ?? "warn" }),
  });
  await app.start();
  return app;
}

/** A notification as a webhook receiver got it, signature checked. */
export interface ReceivedWebhook {
  id: string;
  timestamp: number;
  /** Wall time of arrival. */
  arrivedAtMs: number;
  body: {
    type: string;
    timestamp: string;
    data: {
      alert?: Record<string, unknown> & {
        id: number;
        ruleId: number;
        startTime: string;
        device: { code: string; number: number } | null;
        sensor: string;
        kind: string;
        summary: string;
      };
    };
  };
  /** The signature verified with the channel's secret (set once the secret is known). */
  verified: boolean;
}

/**
 * An HTTP server on 127.0.0.1 that receives webhooks and verifies them with
 * the `standardwebhooks` library, as an integrator would. `status` decides
 * what it answers (a failing receiver); `secret` is set after the channel is
 * created.
 */
export async function startWebhookReceiver() {
  const received: ReceivedWebhook[] = [];
  const state = { status: 200, secret: "" };
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => {
      body += c.toString("utf8");
    });
    req.on("end", () => {
      const headers = {
        "webhook-id": String(req.headers["webhook-id"] ?? ""),
        "webhook-timestamp": String(req.headers["webhook-timestamp"] ?? ""),
        "webhook-signature": String(req.headers["webhook-signature"] ?? ""),
      };
      let verified = false;
      try {
        if (state.secret) {
          new Webhook(state.secret).verify(body, headers);
          verified = true;
        }
      } catch {
        verified = false;
      }
      received.push({
        id: headers["webhook-id"],
        timestamp: Number(headers["webhook-timestamp"]),
        arrivedAtMs: Date.now(),
        body: JSON.parse(body),
        verified,
      });
      res.statusCode = state.status;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    port,
    received,
    state,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Connect-JSON calls to AlertService with a bearer token; returns status and body. */
export function alertApi(pipeline: Pipeline, token: () => Promise<string>) {
  return async function call<T = Record<string, unknown>>(
    method: string,
    body: object = {},
    as?: string,
  ): Promise<{ status: number; body: T & { code?: string; message?: string } }> {
    const res = await fetch(`${pipeline.queryUrl}/vigil.alerts.v1.AlertService/${method}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${as ?? (await token())}` },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as T & { code?: string; message?: string } };
  };
}
