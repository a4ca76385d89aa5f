import { type ComponentType, type LazyExoticComponent, lazy } from "react";

/**
 * One page of the console. A page is a folder under src/pages with an
 * index.ts exporting its ConsolePage as default, plus one line in
 * src/pages/registry.ts; the shell builds routes, navigation and access
 * checks from these.
 */
export interface ConsolePage {
  /** Route path without the leading slash, e.g. "fleet" or "devices/:code/:number". */
  path: string;
  /** Page title (document title and heading). */
  title: string;
  /** Where it appears in the navigation; pages without it are reached by links (a device). */
  nav?: { label: string; section: "main" | "admin"; order: number };
  /**
   * Scopes of which the user needs at least one to open the page (the API
   * checks them again on every call). Empty: every signed-in user.
   */
  anyScope: string[];
  /** The page, loaded when first opened (its code is a chunk of its own). */
  component: LazyExoticComponent<ComponentType>;
  /** Starts loading the page's chunk (the same import as `component`): the shell calls it for the page a visit starts on. */
  load: () => Promise<unknown>;
}

/** A page's `component` and `load` from one import: `...lazyPage(() => import("./x-page.tsx"))`. */
export function lazyPage(load: () => Promise<{ default: ComponentType }>): Pick<ConsolePage, "component" | "load"> {
  return { component: lazy(load), load };
}

/** Whether a user with these scopes may open the page. */
export function canOpen(page: ConsolePage, scopes: readonly string[]): boolean {
  return page.anyScope.length === 0 || page.anyScope.some((s) => scopes.includes(s));
}
