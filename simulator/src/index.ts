export { createSimulatorApp, type SimulatorApp, type SimulatorDeps } from "./app.ts";
export { loadSimulatorConfig, type SimulatorConfig, simulatorEnv, simulatorTls } from "./config.ts";
export { type ControlServer, type FleetControl, simulatorService, startControlServer } from "./control-service.ts";
export { Fleet, type FleetOptions } from "./fleet.ts";
export type { FleetSummary } from "./fleet-stats.ts";
export { provisionDevices } from "./provision.ts";
export { DEVICE_KINDS, type DeviceKind, type SensorSpec } from "./sensor-profiles.ts";
export { parseShard, type Shard, selectShard, shardNumbers } from "./shard.ts";
export { type DeviceIdentity, type DeviceOptions, SimulatedDevice } from "./simulated-device.ts";
