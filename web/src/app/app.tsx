import { Code, ConnectError, type Transport } from "@connectrpc/connect";
import { TransportProvider } from "@connectrpc/connect-query";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { BrowserRouter, Navigate, Route, Routes, useLocation } from "react-router";
import type { SessionStore } from "../auth/session.ts";
import { SessionProvider, useSession, useSessionStore } from "../auth/session-context.tsx";
import { SignInPage } from "../auth/sign-in-page.tsx";
import { Home } from "./home.tsx";
import { NotFound, PageFrame } from "./page-frame.tsx";
import { pages } from "./pages.ts";
import { Shell } from "./shell.tsx";

/** Errors a retry cannot fix. */
const FINAL = new Set([
  Code.Unauthenticated,
  Code.PermissionDenied,
  Code.InvalidArgument,
  Code.NotFound,
  Code.FailedPrecondition,
  Code.Unimplemented,
]);

export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        retry: (count, err) => count < 3 && !FINAL.has(ConnectError.from(err).code),
        staleTime: 5_000,
      },
    },
  });
}

export function App({
  session,
  transport,
  queryClient,
}: {
  session: SessionStore;
  transport: Transport;
  queryClient: QueryClient;
}) {
  return (
    <SessionProvider store={session}>
      <TransportProvider transport={transport}>
        <QueryClientProvider client={queryClient}>
          <BrowserRouter>
            <Routes>
              <Route path="/sign-in" element={<SignInPage />} />
              <Route
                element={
                  <RequireSession>
                    <Shell />
                  </RequireSession>
                }
              >
                <Route index element={<Home />} />
                {pages.map((p) => (
                  <Route key={p.path} path={p.path} element={<PageFrame page={p} />} />
                ))}
                <Route path="*" element={<NotFound />} />
              </Route>
            </Routes>
          </BrowserRouter>
        </QueryClientProvider>
      </TransportProvider>
    </SessionProvider>
  );
}

/** Sends signed-out users to the sign-in page, and back here after. */
function RequireSession({ children }: { children: ReactNode }) {
  const store = useSessionStore();
  const session = useSession();
  const location = useLocation();
  if (!session) {
    const next = `${location.pathname}${location.search}`;
    // After "Sign out" (here or in another tab) the next user starts afresh.
    const fresh = next === "/" || store.lastSignOutReason === "signed-out";
    return <Navigate to={fresh ? "/sign-in" : `/sign-in?next=${encodeURIComponent(next)}`} replace />;
  }
  return children;
}
