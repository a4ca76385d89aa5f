import { FEED_STREAM_NAME } from "./alert-feed.ts";
import { DEVICE_EVENTS_SUBJECT } from "./device-events.ts";
import { STREAM_NAME, SUBJECT_PREFIX } from "./subjects.ts";
import { USER_EVENTS_SUBJECT } from "./user-events.ts";

/**
 * The NATS identities of a deployment: one per component that connects, and
 * `admin` for the one-off setup of streams and consumers (`vigil nats setup`,
 * the chart's setup Job). The lifecycle service does not use NATS and has no user.
 */
export const NATS_COMPONENTS = ["receiver", "writer", "query", "alerter", "admin"] as const;
export type NatsComponent = (typeof NATS_COMPONENTS)[number];

export interface SubjectRule {
  allow: string[];
  deny?: string[];
}

/** A NATS user's `permissions` block, as nats-server reads it. */
export interface SubjectPermissions {
  publish: SubjectRule;
  subscribe: SubjectRule;
}

/** The user name of a component's NATS identity: `vigil-receiver`, … */
export function natsUser(component: NatsComponent): string {
  return `vigil-${component}`;
}

/**
 * Where a component's replies arrive (JetStream API responses, PubAcks,
 * pulled batches): `_INBOX_receiver.<id>`. A private prefix per component,
 * so no one can subscribe to another's inbox (the writers' pulled batches
 * arrive on theirs) as everyone could with the shared `_INBOX.>`.
 */
export function natsInboxPrefix(component: NatsComponent): string {
  return `_INBOX_${component}`;
}

const API = "$JS.API";

/**
 * What each component may publish and subscribe to: the only place NATS
 * permissions are decided. The chart's bundled NATS and the documented
 * configuration for an external one are rendered from this (a test checks
 * both), and a test runs each service against a nats-server with exactly
 * these permissions. Anything not listed is denied; in particular only
 * `admin` may create, update, purge or delete streams, or create and delete
 * the writers' durable consumer.
 *
 * `consumer` is the writers' durable consumer (NATS_CONSUMER).
 */
export function natsPermissions(consumer: string): Record<NatsComponent, SubjectPermissions> {
  const readings = `${SUBJECT_PREFIX}.>`;
  const inbox = (c: NatsComponent) => `${natsInboxPrefix(c)}.>`;
  // Every client asks the account's JetStream limits once when it opens the JetStream API, and
  // checks at start that the readings' stream and the writers' consumer exist (without the
  // consumer, interest retention would drop what is published).
  const common = [
    `${API}.INFO`,
    `${API}.STREAM.INFO.${STREAM_NAME}`,
    `${API}.CONSUMER.INFO.${STREAM_NAME}.${consumer}`,
  ];
  // The writers' durable: nobody else may pull from it, ack for it, or replace or delete it.
  const durableGuard = [
    `${API}.CONSUMER.CREATE.${STREAM_NAME}.${consumer}`,
    `${API}.CONSUMER.CREATE.${STREAM_NAME}.${consumer}.>`,
    `${API}.CONSUMER.DURABLE.CREATE.${STREAM_NAME}.${consumer}`,
    `${API}.CONSUMER.DELETE.${STREAM_NAME}.${consumer}`,
    `${API}.CONSUMER.MSG.NEXT.${STREAM_NAME}.${consumer}`,
    `$JS.ACK.${STREAM_NAME}.${consumer}.>`,
  ];
  return {
    // Publishes batches (PubAck on its inbox); reads a device's last batch on resume; hears
    // device revocations.
    receiver: {
      publish: {
        allow: [
          readings,
          ...common,
          // A device's last batch on resume (last_by_subj). NATS cannot narrow this to one
          // device's subject (it is in the request's body): a receiver's user can fetch any
          // batch still in the log (docs/security.md, residuals), though not subscribe to them.
          `${API}.STREAM.MSG.GET.${STREAM_NAME}`,
        ],
      },
      subscribe: { allow: [inbox("receiver"), DEVICE_EVENTS_SUBJECT] },
    },
    // Pulls from its durable consumer and acks, naks, terms and extends what it pulled.
    writer: {
      publish: {
        allow: [
          ...common,
          `${API}.CONSUMER.MSG.NEXT.${STREAM_NAME}.${consumer}`,
          `$JS.ACK.${STREAM_NAME}.${consumer}.>`,
        ],
      },
      subscribe: { allow: [inbox("writer")] },
    },
    // Live tails (WatchReadings) on ordered consumers of its own (ephemeral, no acks, a filter
    // subject each), dead-letter replays (publishes batches), device and token-version events.
    query: {
      publish: {
        allow: [
          readings,
          ...common,
          `${API}.CONSUMER.CREATE.${STREAM_NAME}.*.>`,
          `${API}.CONSUMER.INFO.${STREAM_NAME}.*`,
          `${API}.CONSUMER.DELETE.${STREAM_NAME}.*`,
          `${API}.CONSUMER.MSG.NEXT.${STREAM_NAME}.*`,
          DEVICE_EVENTS_SUBJECT,
          USER_EVENTS_SUBJECT,
        ],
        deny: durableGuard,
      },
      subscribe: { allow: [inbox("query"), USER_EVENTS_SUBJECT] },
    },
    // Reads its feed (VIGIL_ALERTING) on ordered consumers; never touches the readings' stream
    // beyond checking it exists.
    alerter: {
      publish: {
        allow: [
          ...common,
          `${API}.STREAM.INFO.${FEED_STREAM_NAME}`,
          `${API}.CONSUMER.CREATE.${FEED_STREAM_NAME}.*.>`,
          `${API}.CONSUMER.INFO.${FEED_STREAM_NAME}.*`,
          `${API}.CONSUMER.DELETE.${FEED_STREAM_NAME}.*`,
          `${API}.CONSUMER.MSG.NEXT.${FEED_STREAM_NAME}.*`,
        ],
      },
      subscribe: { allow: [inbox("alerter")] },
    },
    // Creates and updates the streams and the writers' consumer; operators' repairs.
    admin: {
      publish: { allow: [`${API}.>`] },
      subscribe: { allow: [inbox("admin")] },
    },
  };
}

/** How a rendered configuration names each user's password: a literal, or `$VAR` for an environment variable. */
export type PasswordSource = { literal: string } | { env: string };

/**
 * The `authorization { users: [...] }` block for nats-server, in its JSON
 * form (nats-server's configuration format accepts JSON). Passwords are
 * written as given: an environment reference (`$VIGIL_RECEIVER_PASSWORD`)
 * keeps them out of the file.
 */
export function natsAuthorizationConfig(
  consumer: string,
  passwords: Partial<Record<NatsComponent, PasswordSource>>,
): string {
  const permissions = natsPermissions(consumer);
  const users = NATS_COMPONENTS.filter((c) => passwords[c]).map((c) => {
    const source = passwords[c]!;
    const password = "env" in source ? `$${source.env}` : JSON.stringify(source.literal);
    return `    { user: ${JSON.stringify(natsUser(c))}, password: ${password}, permissions: ${JSON.stringify(permissions[c])} }`;
  });
  return ["authorization {", "  users: [", ...users, "  ]", "}"].join("\n");
}
