import http from "node:http";
import https from "node:https";
import { isIP } from "node:net";
import type { ChannelRow, Delivery } from "@vigil/alerts";
import ipaddr from "ipaddr.js";
import { RequestFilteringHttpAgent, RequestFilteringHttpsAgent } from "request-filtering-agent";
import { Webhook } from "standardwebhooks";
import type { ChannelSender, SendResult } from "./channel-sender.ts";

export interface WebhookPolicy {
  /** Private, loopback, link-local and other non-public addresses may be reached. */
  allowPrivate: boolean;
  /** Addresses or CIDRs allowed even though private. */
  allowedCidrs: string[];
  timeoutMs: number;
}

/** Most of a receiver's answer read (for the error message); the rest is discarded. */
const MAX_RESPONSE_BYTES = 4_096;

/**
 * Webhooks signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`,
 * `webhook-signature` = v1,base64(HMAC-SHA256(secret, id.timestamp.body)))
 * with the `standardwebhooks` library. Targets are checked where the
 * connection is made: the agent validates every address DNS returns before
 * connecting to it, and the connected socket's remote address is checked
 * again, so a name that resolves (or re-resolves) to a private address is
 * refused. Redirects are not followed.
 */
export function webhookSender(policy: WebhookPolicy): ChannelSender {
  const filter = {
    allowPrivateIPAddress: policy.allowPrivate,
    allowMetaIPAddress: false,
    allowIPAddressList: policy.allowedCidrs,
  };
  const agents = {
    "http:": new RequestFilteringHttpAgent({ ...filter, keepAlive: true, maxSockets: 16 }),
    "https:": new RequestFilteringHttpsAgent({ ...filter, keepAlive: true, maxSockets: 16 }),
  };
  return {
    async send(channel: ChannelRow, delivery: Delivery): Promise<SendResult> {
      const url = new URL(String((channel.config as { url?: string }).url));
      const agent = agents[url.protocol as "http:" | "https:"];
      if (!agent) return { ok: false, error: `unsupported scheme ${url.protocol}`, permanent: true };
      const body = JSON.stringify(delivery.payload);
      const now = new Date();
      const signature = new Webhook(channel.secret).sign(delivery.message_id, now, body);
      return post(url, body, agent, policy, {
        "content-type": "application/json",
        "user-agent": "Vigil-Alerter/1",
        "webhook-id": delivery.message_id,
        "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
        "webhook-signature": signature,
      });
    },
    async close() {
      agents["http:"].destroy();
      agents["https:"].destroy();
    },
  };
}

function post(
  url: URL,
  body: string,
  agent: http.Agent,
  policy: WebhookPolicy,
  headers: Record<string, string>,
): Promise<SendResult> {
  return new Promise((resolve) => {
    const request = (url.protocol === "https:" ? https : http).request(url, {
      method: "POST",
      agent,
      headers: { ...headers, "content-length": Buffer.byteLength(body) },
      timeout: policy.timeoutMs,
    });
    let settled = false;
    const done = (result: SendResult) => {
      if (settled) return;
      settled = true;
      resolve(result);
    };
    request.on("socket", (socket) => {
      const check = () => {
        const remote = socket.remoteAddress;
        if (remote && !addressAllowed(remote, policy)) {
          request.destroy(new Error(`connected to ${remote}, a private address`));
        }
      };
      if (socket.remoteAddress) check();
      else socket.once("connect", check);
    });
    request.on("timeout", () => request.destroy(new Error(`no answer within ${policy.timeoutMs} ms`)));
    request.on("error", (err: Error) => {
      const refused = /is not allowed|private address/.test(err.message);
      done({ ok: false, error: err.message, permanent: refused });
    });
    request.on("response", (res) => {
      let text = "";
      res.on("data", (chunk: Buffer) => {
        if (text.length < MAX_RESPONSE_BYTES) text += chunk.toString("utf8").slice(0, MAX_RESPONSE_BYTES - text.length);
      });
      res.on("end", () => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) done({ ok: true, status });
        else done({ ok: false, status, error: `HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ""}` });
      });
      res.on("error", (err) => done({ ok: false, status: res.statusCode, error: err.message }));
    });
    request.end(body);
  });
}

/** The same rule as the agent's, for the address actually connected to. */
export function addressAllowed(address: string, policy: Pick<WebhookPolicy, "allowPrivate" | "allowedCidrs">): boolean {
  if (isIP(address) === 0) return false;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === "ipv6" && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
    parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  }
  for (const entry of policy.allowedCidrs) {
    try {
      const [range, bits] = entry.includes("/") ? ipaddr.parseCIDR(entry) : [ipaddr.parse(entry), -1];
      if (range.kind() !== parsed.kind()) continue;
      if (bits === -1 ? range.toString() === parsed.toString() : parsed.match([range, bits] as never)) return true;
    } catch {
      // A bad entry is refused by the configuration check.
    }
  }
  if (parsed.range() === "unspecified") return false;
  return policy.allowPrivate || parsed.range() === "unicast";
}
