import { lazy } from "react";
import type { ConsolePage } from "../console-page.ts";

const device: ConsolePage = {
  path: "devices/:code/:number",
  title: "Device",
  anyScope: ["readings:read"],
  component: lazy(() => import("./device-page.tsx")),
};
export default device;
