import type { ReactNode } from "react";

/**
 * A table that may scroll sideways (narrow screens): focusable, so keyboard
 * users can scroll it too, and named by the table's caption for screen readers.
 */
export function ScrollRegion({ label, children }: { label: string; children: ReactNode }) {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must take focus to be scrolled by keyboard.
    <section className="table-wrap" tabIndex={0} aria-label={label}>
      {children}
    </section>
  );
}
