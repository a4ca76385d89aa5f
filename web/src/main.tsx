import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { createApiTransport, sessionInterceptor } from "./api/transport.ts";
import { App, createQueryClient } from "./app/app.tsx";
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

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App session={session} transport={transport} queryClient={queryClient} />
  </StrictMode>,
);
