import { type AlertPayload, type ChannelRow, type Delivery, emailSubject, emailText } from "@vigil/alerts";
import nodemailer, { type TransportOptions } from "nodemailer";
import type { ChannelSender, SendResult } from "./channel-sender.ts";

/**
 * Email through the SMTP server of ALERTER_SMTP_URL (operator configuration,
 * so no SSRF check: recipients are the only user input). The Message-ID is
 * the delivery's webhook-id, so a resent notification is recognisable.
 */
export function emailSender(options: { smtpUrl: string | undefined; from: string; timeoutMs: number }): ChannelSender {
  const transport = options.smtpUrl
    ? nodemailer.createTransport({
        url: options.smtpUrl,
        connectionTimeout: options.timeoutMs,
        greetingTimeout: options.timeoutMs,
        socketTimeout: options.timeoutMs,
      } as TransportOptions)
    : undefined;
  return {
    async send(channel: ChannelRow, delivery: Delivery): Promise<SendResult> {
      if (!transport) return { ok: false, error: "no SMTP server configured (ALERTER_SMTP_URL)" };
      const to = ((channel.config as { to?: string[] }).to ?? []).join(", ");
      const payload = delivery.payload as unknown as AlertPayload;
      try {
        const info = await transport.sendMail({
          from: options.from,
          to,
          subject: emailSubject(payload),
          text: emailText(payload),
          messageId: `<${delivery.message_id}@vigil>`,
          headers: { "X-Vigil-Event": payload.type },
        });
        return info.rejected.length > 0
          ? { ok: false, error: `refused recipients: ${info.rejected.join(", ")}` }
          : { ok: true };
      } catch (err) {
        const e = err as Error & { responseCode?: number };
        return { ok: false, error: e.message, status: e.responseCode };
      }
    },
    async close() {
      transport?.close();
    },
  };
}
