import { envInt } from "@vigil/runtime";
import { DAY_MS } from "./forecast.ts";
import type { ForecastSettings } from "./forecast-store.ts";

/** The forecast settings, shared by every service that computes forecasts. */
export const forecastEnv = {
  /** A component whose crossing is predicted within this many days is due. */
  FORECAST_HORIZON_DAYS: envInt(30, 1, 3650),
  /** Days of condition readings (since the last reset) a trend is fitted to. */
  FORECAST_WINDOW_DAYS: envInt(90, 7, 730),
};

/** ForecastSettings from parsed configuration. */
export function forecastSettings(config: {
  FORECAST_HORIZON_DAYS: number;
  FORECAST_WINDOW_DAYS: number;
}): ForecastSettings {
  return { horizonMs: config.FORECAST_HORIZON_DAYS * DAY_MS, windowMs: config.FORECAST_WINDOW_DAYS * DAY_MS };
}
