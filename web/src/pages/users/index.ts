import { type ConsolePage, lazyPage } from "../console-page.ts";

const users: ConsolePage = {
  path: "admin/users",
  title: "Users",
  nav: { label: "Users", section: "admin", order: 30 },
  anyScope: ["users:admin"],
  ...lazyPage(() => import("./users-page.tsx")),
};
export default users;
