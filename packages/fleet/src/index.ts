export { FleetError } from "./fleet-errors.ts";
export {
  type FleetSummary,
  type FleetSummaryOptions,
  fleetSummary,
  type RobotUsage,
  type SiteUsage,
  type Usage,
} from "./fleet-summary.ts";
export {
  type ActorContext,
  createSite,
  getSite,
  listSites,
  SITE_NAME_PATTERN,
  type SiteFields,
  type SiteView,
  siteProblem,
  updateSite,
} from "./sites.ts";
