export { apiKeyPrefix, generateApiKey, hashApiKey } from "./api-key.ts";
export { DEVICE_CODE_PATTERN, deviceLabel, deviceNameProblem, MAX_DEVICE_NUMBER } from "./device-name.ts";
export {
  authenticateDevice,
  createDevice,
  type Device,
  DeviceError,
  lastWrittenSeq,
  replaceDeviceKey,
} from "./device-registry.ts";
