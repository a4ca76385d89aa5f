import { type ConsolePage, lazyPage } from "../console-page.ts";

const fleet: ConsolePage = {
  path: "fleet",
  title: "Fleet",
  nav: { label: "Fleet", section: "main", order: 10 },
  // devices:read is what plain users get once the fleet API (issue 15) lands.
  anyScope: ["devices:read", "devices:admin"],
  ...lazyPage(() => import("./fleet-page.tsx")),
};
export default fleet;
