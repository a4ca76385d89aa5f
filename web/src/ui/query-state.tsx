import type { ReactNode } from "react";
import { errorMessage } from "../api/transport.ts";

/** Loading and error states of a query, announced to screen readers. */
export function QueryState({
  isPending,
  error,
  children,
}: {
  isPending: boolean;
  error: unknown;
  children?: ReactNode;
}) {
  if (error) {
    return (
      <p className="error" role="alert">
        {errorMessage(error)}
      </p>
    );
  }
  if (isPending) {
    return (
      <p className="muted" role="status">
        Loading…
      </p>
    );
  }
  return children ?? null;
}
