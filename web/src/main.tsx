import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { matchPath } from "react-router";
import { createApiTransport, sessionInterceptor } from "./api/transport.ts";
import { App, createQueryClient } from "./app/app.tsx";
import { pages } from "./app/pages.ts";
import { SessionStore } from "./auth/session.ts";
import "./app/styles.css";

// Auth calls (refresh, logout) go without the session interceptor: it would refresh to refresh.
const session = new SessionStore(createApiTransport());
const transport = createApiTransport([sessionInterceptor(session)]);
const queryClient = createQueryClient();
// Cached answers belong to the user who asked: drop them when the user changes or signs out.
let user = session.current()?.username;
session.subscribe(() => {
  const next = session.current()?.username;
  if (next !== user) queryClient.clear();
  user = next;
});

// The page this visit opens on: fetch its chunk now, alongside React's first render, not after it.
if (session.current()) void pages.find((p) => matchPath(`/${p.path}`, location.pathname))?.load();

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App session={session} transport={transport} queryClient={queryClient} />
  </StrictMode>,
);
