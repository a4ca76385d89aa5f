export {
  type AlertFeed,
  devicePartition,
  FEED_STREAM_NAME,
  FEED_SUBJECT_PREFIX,
  type FeedMessage,
  type FeedReader,
  type FeedSettings,
} from "./alert-feed.ts";
export {
  consumerEnv,
  consumerSettings,
  feedEnv,
  feedSettings,
  type NatsTls,
  natsTls,
  natsTlsEnv,
  streamEnv,
  streamSettings,
} from "./bus-config.ts";
export { type ControlEvents, memoryControlEvents, natsControlEvents } from "./control-events.ts";
export {
  connectDeviceEvents,
  DEVICE_EVENTS_SUBJECT,
  type DeviceEvent,
  type DeviceEvents,
  memoryDeviceEvents,
  natsDeviceEvents,
} from "./device-events.ts";
export {
  type ConsumerSettings,
  connectJetStreamBus,
  type JetStreamBusOptions,
  type JetStreamSetupOptions,
  type StreamSettings,
  setupJetStream,
} from "./jetstream-bus.ts";
export { createMemoryBus, type MemoryBusOptions } from "./memory-bus.ts";
export { type NatsAccess, type NatsAuth, natsAccess, natsAuth, natsAuthEnv } from "./nats-auth.ts";
export {
  NATS_COMPONENTS,
  type NatsComponent,
  natsAuthorizationConfig,
  natsInboxPrefix,
  natsPermissions,
  natsUser,
  type PasswordSource,
  type SubjectPermissions,
} from "./permissions.ts";
export type * from "./reading-bus.ts";
export { isJetStreamUnavailable, type RetryUnavailableOptions, retryWhileUnavailable } from "./retry-unavailable.ts";
export { natsSetupOptions } from "./setup-config.ts";
export {
  batchMessageId,
  deviceSubject,
  parseDeviceSubject,
  SOURCE_HEADER,
  STREAM_NAME,
  SUBJECT_PREFIX,
  sourceIdOf,
  watchSubject,
} from "./subjects.ts";
export {
  memoryUserEvents,
  natsUserEvents,
  USER_EVENTS_SUBJECT,
  type UserEvent,
  type UserEvents,
} from "./user-events.ts";
