import { Component, type ReactNode, Suspense } from "react";
import { useScopes } from "../auth/session-context.tsx";
import { type ConsolePage, canOpen } from "../pages/console-page.ts";
import { PageHeading } from "./page-heading.tsx";

/** Opens a registered page: access check, loading state and a boundary for errors it throws. */
export function PageFrame({ page }: { page: ConsolePage }) {
  const scopes = useScopes();
  if (!canOpen(page, scopes)) return <Forbidden title={page.title} />;
  return (
    <PageErrorBoundary>
      <Suspense
        fallback={
          <p className="muted" role="status">
            Loading…
          </p>
        }
      >
        <page.component />
      </Suspense>
    </PageErrorBoundary>
  );
}

export function Forbidden({ title }: { title: string }) {
  return (
    <section>
      <PageHeading title={title} />
      <p className="notice" role="alert">
        Your account does not have access to this page. Ask an administrator if you need it.
      </p>
    </section>
  );
}

export function NotFound() {
  return (
    <section>
      <PageHeading title="Page not found" />
      <p>There is no page at this address.</p>
    </section>
  );
}

class PageErrorBoundary extends Component<{ children: ReactNode }, { error: unknown }> {
  override state = { error: undefined as unknown };

  static getDerivedStateFromError(error: unknown) {
    return { error };
  }

  override render() {
    if (this.state.error === undefined) return this.props.children;
    return (
      <section>
        <PageHeading title="This page failed to load" />
        <p role="alert">
          {this.state.error instanceof Error ? this.state.error.message : "Unknown error"}. Reload the page to try
          again.
        </p>
      </section>
    );
  }
}
