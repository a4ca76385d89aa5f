export { COMPONENT_KINDS, COMPONENT_PATTERN, type ComponentKind, componentOfSensor } from "./components.ts";
export { type ConditionQuery, type ConditionSeries, readConditionSeries } from "./condition-series.ts";
export {
  type ComponentForecastResult,
  type ConditionPoint,
  DAY_MS,
  DEFAULT_MIN_POINTS,
  type ForecastOptions,
  type ForecastStatus,
  forecastComponent,
} from "./forecast.ts";
export { forecastEnv, forecastSettings } from "./forecast-config.ts";
export {
  type ComponentForecast,
  DEFAULT_FORECAST_SETTINGS,
  type ForecastListOptions,
  type ForecastSettings,
  forecastDevice,
  listForecasts,
  type RecomputeOutcome,
  recomputeForecasts,
} from "./forecast-store.ts";
export { MaintenanceError } from "./maintenance-errors.ts";
export {
  type ActorContext,
  getMaintenanceRecord,
  listMaintenanceRecords,
  MAX_FUTURE_SKEW_MS,
  type MaintenanceKind,
  type MaintenanceListOptions,
  type MaintenancePart,
  type MaintenanceRecordView,
  type NewMaintenanceRecord,
  recordMaintenance,
  recordProblem,
} from "./maintenance-records.ts";
export { type TheilSenFit, theilSen, Z_90 } from "./theil-sen.ts";
