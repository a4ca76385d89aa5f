export { type DemoRobot, type DemoSite, demoRobot, demoRobotParts, demoRobots, demoSites } from "./demo-fleet.ts";
export {
  DEMO_LABEL,
  insertReadings,
  refreshSeededAggregates,
  SeedError,
  type SeedOptions,
  type SeedOutcome,
  type SeedProgress,
  seedDemo,
} from "./demo-seed.ts";
