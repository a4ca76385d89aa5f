import { metricsRegistry } from "@vigil/telemetry";
import { Counter } from "prom-client";
import type { SsoFailure } from "./oidc-routes.ts";

let signIns: Counter<"outcome"> | undefined;

/** The counter, registered once; exposed (with no samples) whether or not single sign-on is on. */
export function ssoSignInCounter(): Counter<"outcome"> {
  signIns ??= new Counter({
    name: "vigil_query_sso_signins_total",
    help: "Single sign-ons by outcome: ok, or the reason they were refused (unmapped, disabled, expired, denied, busy, unavailable, failed).",
    labelNames: ["outcome"],
    registers: [metricsRegistry()],
  });
  return signIns;
}

/** Counts a single sign-on callback's outcome: `ok`, or why it was refused (`unmapped`, `expired`, …). */
export function countSsoSignIn(outcome: "ok" | SsoFailure): void {
  ssoSignInCounter().inc({ outcome });
}
