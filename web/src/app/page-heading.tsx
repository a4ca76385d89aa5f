import { type ReactNode, useEffect, useRef } from "react";

/**
 * A page's h1. It takes focus when the page opens, so keyboard and screen
 * reader users land on the new page's title after following a link, and it
 * sets the document title.
 */
export function PageHeading({ title, children }: { title: string; children?: ReactNode }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · Vigil`;
  }, [title]);
  useEffect(() => {
    ref.current?.focus({ preventScroll: true });
  }, []);
  return (
    <div className="page-heading">
      <h1 ref={ref} tabIndex={-1}>
        {title}
      </h1>
      {children && <div className="page-actions">{children}</div>}
    </div>
  );
}
