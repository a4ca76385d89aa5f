import type { ChannelSender } from "./channel-sender.ts";
import { emailSender } from "./email-sender.ts";
import { type WebhookPolicy, webhookSender } from "./webhook-sender.ts";

export interface SenderOptions {
  webhook: WebhookPolicy;
  smtpUrl: string | undefined;
  smtpFrom: string;
}

/** Every channel kind's sender: a new kind is one line here. */
export function channelSenders(options: SenderOptions): Record<string, ChannelSender> {
  return {
    webhook: webhookSender(options.webhook),
    email: emailSender({ smtpUrl: options.smtpUrl, from: options.smtpFrom, timeoutMs: options.webhook.timeoutMs }),
  };
}
