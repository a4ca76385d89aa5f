import type { ConsolePage } from "../pages/console-page.ts";
import * as registry from "../pages/registry.ts";

/** Every registered page. */
export const pages: readonly ConsolePage[] = Object.values(registry);

/** Navigation entries of one section, in their order. */
export function navPages(section: "main" | "admin"): ConsolePage[] {
  return pages.filter((p) => p.nav?.section === section).sort((a, b) => (a.nav?.order ?? 0) - (b.nav?.order ?? 0));
}
