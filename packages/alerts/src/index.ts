export { AlertError } from "./alert-error.ts";
export {
  type AlertFilter,
  type AlertState,
  type AlertView,
  type AppliedTransitions,
  acknowledgeAlert,
  alertsChangedSince,
  applyTransitions,
  type FireTransition,
  getAlert,
  listAlerts,
  openAlertCounts,
  openAlertKeys,
  type ResolveTransition,
  type Transition,
} from "./alert-store.ts";
export {
  type ChannelRow,
  type ChannelSpec,
  type ChannelView,
  channelForSending,
  createChannel,
  DEFAULT_RATE_PER_MINUTE,
  listChannels,
  toChannelView,
} from "./channel-store.ts";
export {
  type AttemptOutcome,
  claimDueDeliveries,
  createTestDelivery,
  type Delivery,
  type DeliveryEvent,
  deliveryContext,
  getDelivery,
  listDeliveries,
  recordAttempt,
  retryDelivery,
  takeRateToken,
} from "./delivery-store.ts";
export {
  DEFAULT_DELIVERY_DEADLINE_MS,
  type ExternalAlert,
  raiseExternalAlert,
  resolveExternalAlert,
} from "./external-alerts.ts";
export { type AlertPayload, alertPayload, emailSubject, emailText, type PayloadAlert, testPayload } from "./payload.ts";
export * from "./rule-model.ts";
export {
  type ActorContext,
  createRule,
  deleteRule,
  ensureExternalRule,
  getRule,
  listRules,
  loadActiveRules,
  rulesVersion,
  updateRule,
} from "./rule-store.ts";
export {
  createSilence,
  endSilence,
  listSilences,
  MAX_SILENCE_MS,
  type SilenceMatcher,
  type SilenceRow,
} from "./silence-store.ts";
