import { type Kysely, sql } from "kysely";

/**
 * Alerting: rules, the alerts they raise (at most one open per rule, device
 * and sensor, enforced here), silences, notification channels, deliveries,
 * and the alerters' partition leases and checkpoints.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE notification_channels (
      id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
      kind            text NOT NULL CHECK (kind IN ('webhook', 'email')),
      -- webhook: {"url": …}; email: {"to": […]}.
      config          jsonb NOT NULL,
      -- Standard Webhooks signing secret ("whsec_…"); empty for email.
      secret          text NOT NULL DEFAULT '',
      rate_per_minute integer NOT NULL CHECK (rate_per_minute BETWEEN 1 AND 10000),
      -- Token bucket shared by every alerter replica (one UPDATE takes a token).
      rate_tokens     double precision NOT NULL,
      rate_updated_at timestamptz NOT NULL DEFAULT now(),
      created_by      text NOT NULL,
      created_at      timestamptz NOT NULL DEFAULT now(),
      deleted_at      timestamptz
    )`.execute(db);
  await sql`CREATE UNIQUE INDEX notification_channels_name ON notification_channels (name) WHERE deleted_at IS NULL`.execute(
    db,
  );

  await sql`
    CREATE TABLE alert_rules (
      id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
      description text NOT NULL DEFAULT '',
      kind        text NOT NULL CHECK (kind IN ('threshold', 'rate_of_change', 'anomaly', 'absence', 'external')),
      severity    text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
      -- DeviceSelector and sensors, as the API's JSON.
      selector    jsonb NOT NULL DEFAULT '{}',
      sensors     text[] NOT NULL DEFAULT '{}',
      -- The condition's parameters, as the API's JSON.
      params      jsonb NOT NULL DEFAULT '{}',
      -- External rules: who raises their alerts ("maintenance", "alerter").
      source      text,
      channel_ids bigint[] NOT NULL DEFAULT '{}',
      enabled     boolean NOT NULL DEFAULT true,
      created_by  text NOT NULL,
      created_at  timestamptz NOT NULL DEFAULT now(),
      updated_at  timestamptz NOT NULL DEFAULT now(),
      deleted_at  timestamptz,
      -- Grows with every change; alerters reload rules when the maximum moves.
      version     bigint NOT NULL DEFAULT 1
    )`.execute(db);
  await sql`CREATE UNIQUE INDEX alert_rules_external_source ON alert_rules (source)
    WHERE kind = 'external' AND deleted_at IS NULL`.execute(db);

  await sql`
    CREATE TABLE alerts (
      id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      rule_id          bigint NOT NULL REFERENCES alert_rules (id),
      -- NULL for alerts about no single device (an alerter gap).
      device_id        integer REFERENCES devices (id),
      -- Empty: the device as a whole.
      sensor           text NOT NULL DEFAULT '',
      severity         text NOT NULL,
      state            text NOT NULL CHECK (state IN ('firing', 'acknowledged', 'resolved')),
      summary          text NOT NULL,
      -- Event time of the first reading that fired it: with the rule, device
      -- and sensor it names the occurrence, so a replay raises nothing twice.
      started_at       timestamptz NOT NULL,
      fired_at         timestamptz NOT NULL DEFAULT now(),
      acknowledged_at  timestamptz,
      acknowledged_by  text,
      ack_comment      text,
      resolved_at      timestamptz,
      resolve_reason   text,
      "values"         jsonb NOT NULL DEFAULT '[]',
      details          jsonb NOT NULL DEFAULT '{}',
      updated_at       timestamptz NOT NULL DEFAULT now(),
      version          bigint NOT NULL DEFAULT 1
    )`.execute(db);
  await sql`CREATE UNIQUE INDEX alerts_occurrence ON alerts (rule_id, COALESCE(device_id, 0), sensor, started_at)`.execute(
    db,
  );
  // One open alert per (rule, device, sensor), whatever the alerters do.
  await sql`CREATE UNIQUE INDEX alerts_one_open ON alerts (rule_id, COALESCE(device_id, 0), sensor)
    WHERE state <> 'resolved'`.execute(db);
  await sql`CREATE INDEX alerts_started ON alerts (started_at DESC, id DESC)`.execute(db);
  await sql`CREATE INDEX alerts_updated ON alerts (updated_at)`.execute(db);
  await sql`CREATE INDEX alerts_open ON alerts (id) WHERE state <> 'resolved'`.execute(db);

  await sql`
    CREATE TABLE silences (
      id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      rule_id      bigint,
      device_code  text,
      device_number integer,
      sensor       text,
      max_severity text,
      starts_at    timestamptz NOT NULL,
      ends_at      timestamptz NOT NULL CHECK (ends_at > starts_at),
      comment      text NOT NULL DEFAULT '',
      created_by   text NOT NULL,
      created_at   timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`CREATE INDEX silences_ends ON silences (ends_at)`.execute(db);

  await sql`
    CREATE TABLE alert_deliveries (
      id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      channel_id      bigint NOT NULL REFERENCES notification_channels (id),
      alert_id        bigint REFERENCES alerts (id),
      event           text NOT NULL CHECK (event IN ('fired', 'resolved', 'test')),
      state           text NOT NULL CHECK (state IN ('pending', 'succeeded', 'failed', 'skipped')),
      -- The webhook-id: the same on every attempt, so receivers drop repeats.
      message_id      text NOT NULL UNIQUE,
      -- The JSON body, fixed at creation (a retry sends the same bytes' content).
      payload         jsonb NOT NULL,
      attempts        integer NOT NULL DEFAULT 0,
      next_attempt_at timestamptz NOT NULL DEFAULT now(),
      deadline_at     timestamptz NOT NULL,
      -- A replica sending it holds it until then (a crashed one lets go).
      locked_until    timestamptz,
      delivered_at    timestamptz,
      last_error      text,
      last_status     integer,
      created_at      timestamptz NOT NULL DEFAULT now(),
      updated_at      timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`CREATE INDEX alert_deliveries_due ON alert_deliveries (next_attempt_at) WHERE state = 'pending'`.execute(
    db,
  );
  await sql`CREATE INDEX alert_deliveries_alert ON alert_deliveries (alert_id)`.execute(db);
  await sql`CREATE INDEX alert_deliveries_channel ON alert_deliveries (channel_id, id DESC)`.execute(db);

  // Alerter replicas: membership by heartbeat, partitions by lease with an
  // epoch (a fencing token every write checks), and each partition's
  // checkpoint: the feed position and the detectors' state at it.
  await sql`
    CREATE TABLE alerter_members (
      id           text PRIMARY KEY,
      heartbeat_at timestamptz NOT NULL DEFAULT now(),
      started_at   timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`
    CREATE TABLE alerter_partitions (
      partition        integer PRIMARY KEY,
      owner            text,
      epoch            bigint NOT NULL DEFAULT 0,
      expires_at       timestamptz NOT NULL DEFAULT now(),
      -- Partitions of the feed when the checkpoint was written.
      partitions       integer NOT NULL,
      checkpoint_seq   bigint NOT NULL DEFAULT 0,
      checkpoint_state bytea,
      -- Newest reading time evaluated.
      watermark        timestamptz,
      checkpoint_at    timestamptz
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of [
    "alerter_partitions",
    "alerter_members",
    "alert_deliveries",
    "silences",
    "alerts",
    "alert_rules",
    "notification_channels",
  ]) {
    await sql`DROP TABLE IF EXISTS ${sql.raw(table)}`.execute(db);
  }
}
