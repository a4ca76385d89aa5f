import { type ConsolePage, lazyPage } from "../console-page.ts";

const device: ConsolePage = {
  path: "devices/:code/:number",
  title: "Device",
  anyScope: ["readings:read"],
  ...lazyPage(() => import("./device-page.tsx")),
};
export default device;
