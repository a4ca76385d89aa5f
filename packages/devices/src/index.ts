export { apiKeyPrefix, generateApiKey, hashApiKey } from "./api-key.ts";
export {
  type AdminContext,
  createDevice,
  DEFAULT_KEY_GRACE_MS,
  DEVICE_STATUSES,
  type DeviceFields,
  type DeviceRef,
  type DeviceStatus,
  deleteDevice,
  disableDevice,
  enableDevice,
  labelsProblem,
  type NewDevice,
  replaceDeviceKey,
  revokeDeviceKey,
  rotateDeviceKey,
  updateDevice,
} from "./device-admin.ts";
export { type AuthenticatedDevice, activeKeys, authenticateDevice, lastWrittenSeq } from "./device-auth.ts";
export {
  activeCertificates,
  authenticateDeviceCertificate,
  type DeviceCertificateInfo,
  MAX_CERTIFICATE_PEM_BYTES,
  parseDeviceCertificate,
  registerDeviceCertificate,
  revokeDeviceCertificate,
  rotateDeviceCertificate,
} from "./device-certificates.ts";
export { type DeviceListOptions, type DeviceView, getDevice, listDevices } from "./device-directory.ts";
export { DeviceError } from "./device-errors.ts";
export { DEVICE_CODE_PATTERN, deviceLabel, deviceNameProblem, MAX_DEVICE_NUMBER } from "./device-name.ts";
export { markConnected, markDisconnected, PRESENCE_HEARTBEAT_MS, PRESENCE_TIMEOUT_MS } from "./presence.ts";
