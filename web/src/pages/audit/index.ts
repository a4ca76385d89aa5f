import { lazy } from "react";
import type { ConsolePage } from "../console-page.ts";

const audit: ConsolePage = {
  path: "admin/audit",
  title: "Audit log",
  nav: { label: "Audit log", section: "admin", order: 20 },
  anyScope: ["audit:read"],
  component: lazy(() => import("./audit-page.tsx")),
};
export default audit;
