import type { ChannelRow, Delivery } from "@vigil/alerts";

/** The outcome of one attempt through a channel. */
export type SendResult =
  | { ok: true; status?: number }
  /** `permanent`: retrying cannot help (the target is refused by policy). */
  | { ok: false; error: string; status?: number; permanent?: boolean };

/** One kind of notification channel: a new kind is one file here and one line in `senders.ts`. */
export interface ChannelSender {
  send(channel: ChannelRow, delivery: Delivery): Promise<SendResult>;
  close?(): Promise<void>;
}
