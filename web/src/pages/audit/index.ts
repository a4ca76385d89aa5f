import { type ConsolePage, lazyPage } from "../console-page.ts";

const audit: ConsolePage = {
  path: "admin/audit",
  title: "Audit log",
  nav: { label: "Audit log", section: "admin", order: 20 },
  anyScope: ["audit:read"],
  ...lazyPage(() => import("./audit-page.tsx")),
};
export default audit;
