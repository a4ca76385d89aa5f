import { type ReactNode, useEffect, useRef } from "react";
import { useNavigationType } from "react-router";

/**
 * A page's h1. It takes focus when the page opens by a link or a redirect
 * (such as after signing in), so keyboard and screen reader users land on
 * the new page's title; not on a fresh load or Back, where the browser's own
 * focus (and the skip link) applies. It sets the document title.
 */
export function PageHeading({ title, children }: { title: string; children?: ReactNode }) {
  const ref = useRef<HTMLHeadingElement>(null);
  const navigation = useNavigationType();
  useEffect(() => {
    document.title = `${title} · Vigil`;
  }, [title]);
  // biome-ignore lint/correctness/useExhaustiveDependencies: once, when the page opens.
  useEffect(() => {
    if (navigation !== "POP") ref.current?.focus({ preventScroll: true });
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
