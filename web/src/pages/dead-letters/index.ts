import { type ConsolePage, lazyPage } from "../console-page.ts";

const deadLetters: ConsolePage = {
  path: "admin/dead-letters",
  title: "Dead letters",
  nav: { label: "Dead letters", section: "admin", order: 10 },
  anyScope: ["devices:admin"],
  ...lazyPage(() => import("./dead-letters-page.tsx")),
};
export default deadLetters;
