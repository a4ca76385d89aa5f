import type { ColumnType, Generated } from "kysely";

/**
 * Kysely's view of Vigil's tables. The migrations in `migrations/` are the
 * source of truth; this file mirrors them for type-checked queries.
 */
export interface Database {
  devices: DevicesTable;
  device_keys: DeviceKeysTable;
  sensors: SensorsTable;
  readings: ReadingsTable;
  reading_sources: ReadingSourcesTable;
  dead_letters: DeadLettersTable;
  audit_log: AuditLogTable;
  users: UsersTable;
  refresh_tokens: RefreshTokensTable;
  user_identities: UserIdentitiesTable;
  oidc_pending_signins: OidcPendingSigninsTable;
  oidc_signin_codes: OidcSigninCodesTable;
  device_certificates: DeviceCertificatesTable;
  reading_corrections: ReadingCorrectionsTable;
  reading_history: ReadingHistoryTable;
  notification_channels: NotificationChannelsTable;
  alert_rules: AlertRulesTable;
  alerts: AlertsTable;
  silences: SilencesTable;
  alert_deliveries: AlertDeliveriesTable;
  alerter_members: AlerterMembersTable;
  alerter_partitions: AlerterPartitionsTable;
  sites: SitesTable;
  procedures: ProceduresTable;
  maintenance_records: MaintenanceRecordsTable;
  maintenance_forecasts: MaintenanceForecastsTable;
}

type CreatedAt = ColumnType<Date, Date | undefined, never>;

export interface DevicesTable {
  id: Generated<number>;
  /** Capital letters, such as "OR" for operating-room robots. */
  code: string;
  number: number;
  created_at: CreatedAt;
  disabled_at: Date | null;
  /** Highest batch seq written to readings. */
  last_seq: ColumnType<number, never, number>;
  kind: ColumnType<string, string | undefined, string>;
  model: ColumnType<string, string | undefined, string>;
  site: ColumnType<string, string | undefined, string>;
  labels: ColumnType<Record<string, string>, string | undefined, string>;
  /** Token bucket override; null: the receivers' default. */
  rate_limit_per_s: number | null;
  rate_burst: number | null;
  /** True while a receiver holds a stream of the device (refreshed by heartbeat). */
  connected: ColumnType<boolean, boolean | undefined, boolean>;
  last_seen_at: Date | null;
  manufacturer: ColumnType<string, string | undefined, string>;
  serial_number: ColumnType<string, string | undefined, string>;
  firmware: ColumnType<string, string | undefined, string>;
  /** "active", "in_maintenance" or "retired". */
  status: ColumnType<string, string | undefined, string>;
  /** Soft delete: set once, the device is also disabled. */
  deleted_at: Date | null;
}

export interface DeviceKeysTable {
  id: Generated<number>;
  device_id: number;
  /** Public part of the key, unique, used to find the row. */
  prefix: string;
  /** SHA-256 of the whole key; the key itself is never stored. */
  hash: Buffer;
  created_at: CreatedAt;
  expires_at: Date | null;
  revoked_at: Date | null;
}

export interface SensorsTable {
  id: Generated<number>;
  name: string;
  /** The device whose batch added the name; null for names added otherwise (corrections, restores, before 0008). */
  registered_by: number | null;
  registered_at: ColumnType<Date, Date | undefined, never>;
}

export interface ReadingsTable {
  time: Date;
  value: number;
  seq: number;
  received_at: Date;
  updated_at: Date | null;
  deleted_at: Date | null;
  device_id: number;
  sensor_id: number;
  /** reading_sources.id: the credential and receiver that took the reading (null: unknown, before migration 0018). */
  source_id: ColumnType<number | null, number | null | undefined, number | null>;
}

/** One (device, credential, receiver) that readings came from (migration 0018). */
export interface ReadingSourcesTable {
  id: Generated<number>;
  device_id: number;
  /** Prefix of the API key ("" when the stream had none). */
  key_prefix: ColumnType<string, string | undefined, never>;
  /** SHA-256 of the client certificate, hex ("" when none). */
  cert_fingerprint: ColumnType<string, string | undefined, never>;
  /** Receiver instance (pod name). */
  receiver: string;
  created_at: Generated<Date>;
}

export interface DeadLettersTable {
  id: Generated<number>;
  /** Null when the sender could not be identified. */
  device_id: number | null;
  seq: number | null;
  /** Where it was refused: "receiver" or "writer". */
  source: string;
  reason: string;
  violations: ColumnType<unknown, string | undefined, string>;
  payload: Buffer | null;
  /** Size of the batch as it arrived (payload may hold only its start); null before migration 0009. */
  payload_bytes: number | null;
  created_at: CreatedAt;
  /** RejectCode name for receiver rejects; empty for writer dead letters. */
  code: ColumnType<string, string | undefined, string>;
  replayed_at: Date | null;
}

export interface AuditLogTable {
  id: Generated<number>;
  at: CreatedAt;
  actor: string;
  action: string;
  target: ColumnType<string, string | undefined, string>;
  details: ColumnType<unknown, string | undefined, string>;
  rows_affected: number | null;
  trace_id: string | null;
  /** Position in the hash chain, set by the database. */
  chain_seq: ColumnType<number, never, never>;
  prev_hash: ColumnType<Buffer, never, never>;
  hash: ColumnType<Buffer, never, never>;
}

export interface UsersTable {
  id: Generated<number>;
  username: string;
  /** argon2id PHC string. */
  password_hash: string;
  role: string;
  created_at: CreatedAt;
  disabled_at: Date | null;
  /** Raised to end every access token of the user at once; tokens carry it as `tv`. */
  token_version: Generated<number>;
  /** A deleted user's tombstone: the username stays taken, the credentials are gone (0016). */
  deleted_at: Date | null;
}

export interface RefreshTokensTable {
  id: Generated<number>;
  user_id: number;
  family: string;
  token_hash: Buffer;
  created_at: CreatedAt;
  expires_at: Date;
  used_at: Date | null;
  revoked_at: Date | null;
}

/** An identity provider's account linked to a Vigil user, by (issuer, subject). */
export interface UserIdentitiesTable {
  id: Generated<number>;
  user_id: number;
  issuer: string;
  subject: string;
  created_at: CreatedAt;
  last_login_at: ColumnType<Date, Date | undefined, Date>;
}

/** An OpenID Connect sign-in sent to the provider and not back yet. */
export interface OidcPendingSigninsTable {
  id: Generated<number>;
  state_hash: Buffer;
  nonce: string;
  code_verifier: string;
  created_at: CreatedAt;
  expires_at: Date;
}

/** A single-use code the console exchanges for tokens after a single sign-on. */
export interface OidcSigninCodesTable {
  id: Generated<number>;
  code_hash: Buffer;
  user_id: number;
  created_at: CreatedAt;
  expires_at: Date;
}

export interface DeviceCertificatesTable {
  id: Generated<number>;
  device_id: number;
  /** SHA-256 of the DER, lower-case hex. */
  fingerprint: string;
  subject: string;
  issuer: string;
  serial: string;
  not_before: Date;
  not_after: Date;
  created_at: CreatedAt;
  expires_at: Date | null;
  revoked_at: Date | null;
}

/** One correction call: update, delete or undelete of one device's readings in a range. */
export interface ReadingCorrectionsTable {
  id: Generated<number>;
  at: CreatedAt;
  /** "user:<name>". */
  actor: string;
  action: "update" | "delete" | "undelete";
  device_id: number;
  range_start: Date;
  range_end: Date;
  /** The filter's sensor, when it named one. */
  sensor_id: number | null;
  /** What the update asked for (sensor, value, time); {} for deletes. */
  changes: ColumnType<unknown, string | undefined, string>;
  reason: ColumnType<string, string | undefined, string>;
  rows: ColumnType<number, number | undefined, number>;
  trace_id: string | null;
}

/** One reading changed by one correction: as it was, and as it became. */
export interface ReadingHistoryTable {
  correction_id: number;
  device_id: number;
  sensor_id: number;
  time: Date;
  value: number;
  deleted_at: Date | null;
  new_sensor_id: number;
  new_time: Date;
  new_value: number;
  new_deleted_at: Date | null;
}

export interface NotificationChannelsTable {
  id: Generated<number>;
  name: string;
  kind: "webhook" | "email";
  config: ColumnType<Record<string, unknown>, string, string>;
  secret: ColumnType<string, string | undefined, string>;
  rate_per_minute: number;
  rate_tokens: number;
  rate_updated_at: ColumnType<Date, Date | undefined, Date>;
  created_by: string;
  created_at: CreatedAt;
  deleted_at: Date | null;
}

export interface AlertRulesTable {
  id: Generated<number>;
  name: string;
  description: ColumnType<string, string | undefined, string>;
  kind: "threshold" | "rate_of_change" | "anomaly" | "absence" | "external";
  severity: "info" | "warning" | "critical";
  selector: ColumnType<Record<string, unknown>, string | undefined, string>;
  sensors: ColumnType<string[], string[] | undefined, string[]>;
  params: ColumnType<Record<string, unknown>, string | undefined, string>;
  source: string | null;
  channel_ids: ColumnType<number[], number[] | undefined, number[]>;
  enabled: ColumnType<boolean, boolean | undefined, boolean>;
  created_by: string;
  created_at: CreatedAt;
  updated_at: ColumnType<Date, Date | undefined, Date>;
  deleted_at: Date | null;
  version: ColumnType<number, number | undefined, number>;
}

export interface AlertsTable {
  id: Generated<number>;
  rule_id: number;
  device_id: number | null;
  sensor: ColumnType<string, string | undefined, string>;
  severity: string;
  state: "firing" | "acknowledged" | "resolved";
  summary: string;
  started_at: Date;
  fired_at: ColumnType<Date, Date | undefined, Date>;
  acknowledged_at: Date | null;
  acknowledged_by: string | null;
  ack_comment: string | null;
  resolved_at: Date | null;
  resolve_reason: string | null;
  values: ColumnType<Array<[number, number]>, string | undefined, string>;
  details: ColumnType<Record<string, unknown>, string | undefined, string>;
  updated_at: ColumnType<Date, Date | undefined, Date>;
  version: ColumnType<number, number | undefined, number>;
}

export interface SilencesTable {
  id: Generated<number>;
  rule_id: number | null;
  device_code: string | null;
  device_number: number | null;
  sensor: string | null;
  max_severity: string | null;
  starts_at: Date;
  ends_at: Date;
  comment: ColumnType<string, string | undefined, string>;
  created_by: string;
  created_at: CreatedAt;
}

export interface AlertDeliveriesTable {
  id: Generated<number>;
  channel_id: number;
  alert_id: number | null;
  event: "fired" | "resolved" | "test";
  state: "pending" | "succeeded" | "failed" | "skipped";
  message_id: string;
  payload: ColumnType<Record<string, unknown>, string, string>;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: ColumnType<Date, Date | undefined, Date>;
  deadline_at: Date;
  locked_until: Date | null;
  delivered_at: Date | null;
  last_error: string | null;
  last_status: number | null;
  created_at: CreatedAt;
  updated_at: ColumnType<Date, Date | undefined, Date>;
}

export interface SitesTable {
  id: Generated<number>;
  /** Lower-case slug, the key devices refer to (devices.site). */
  name: string;
  display_name: ColumnType<string, string | undefined, string>;
  time_zone: ColumnType<string, string | undefined, string>;
  available_hours_per_day: ColumnType<number, number | undefined, number>;
  created_at: CreatedAt;
  updated_at: ColumnType<Date, Date | undefined, Date>;
}

export interface AlerterMembersTable {
  id: string;
  heartbeat_at: ColumnType<Date, Date | undefined, Date>;
  started_at: CreatedAt;
}

export interface AlerterPartitionsTable {
  partition: number;
  owner: string | null;
  epoch: ColumnType<number, number | undefined, number>;
  expires_at: ColumnType<Date, Date | undefined, Date>;
  partitions: number;
  checkpoint_seq: ColumnType<number, number | undefined, number>;
  checkpoint_state: Buffer | null;
  watermark: Date | null;
  checkpoint_at: Date | null;
}

export interface ProceduresTable {
  id: string;
  device_id: number;
  /** The robot's site when the procedure started. */
  site: string;
  type: string;
  /** Pseudonymous identifiers only. */
  surgeon_id: string;
  patient_id: string;
  started_at: Date;
  ended_at: Date | null;
  /** "in_progress", "completed" or "aborted". */
  state: string;
  outcome_result: string | null;
  outcome_grade: number | null;
  outcome_blood_loss_ml: number | null;
  outcome_codes: ColumnType<string[], string[] | undefined, string[]>;
  outcome_recorded_at: Date | null;
  created_at: CreatedAt;
}

export interface MaintenanceRecordsTable {
  id: string;
  device_id: number;
  site: string;
  /** "preventive" or "corrective". */
  kind: string;
  started_at: Date;
  /** started_at + downtime. */
  ended_at: Date;
  components: ColumnType<string[], string[] | undefined, string[]>;
  parts: ColumnType<Array<{ partNumber: string; quantity: number }>, string | undefined, string>;
  cost_minor: ColumnType<string, number | undefined, number>;
  currency: ColumnType<string, string | undefined, string>;
  technician: ColumnType<string, string | undefined, string>;
  notes: ColumnType<string, string | undefined, string>;
  recorded_by: string;
  created_at: CreatedAt;
}

export interface MaintenanceForecastsTable {
  device_id: number;
  component: string;
  sensor: string;
  threshold: number;
  fails_above: boolean;
  status: string;
  current_value: number | null;
  slope_per_day: number | null;
  crossing_at: Date | null;
  crossing_earliest: Date | null;
  crossing_latest: Date | null;
  last_reset_at: Date | null;
  points: number;
  data_start: Date | null;
  data_end: Date | null;
  computed_at: Date;
}
