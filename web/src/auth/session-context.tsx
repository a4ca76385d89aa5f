import { createContext, type ReactNode, useContext, useSyncExternalStore } from "react";
import type { Session, SessionStore } from "./session.ts";

const SessionContext = createContext<SessionStore | null>(null);

export function SessionProvider({ store, children }: { store: SessionStore; children: ReactNode }) {
  return <SessionContext.Provider value={store}>{children}</SessionContext.Provider>;
}

export function useSessionStore(): SessionStore {
  const store = useContext(SessionContext);
  if (!store) throw new Error("useSessionStore outside SessionProvider");
  return store;
}

/** The signed-in user's session; re-renders on sign-in, refresh and sign-out (in any tab). */
export function useSession(): Session | undefined {
  const store = useSessionStore();
  return useSyncExternalStore(store.subscribe, store.current);
}

/** The current user's scopes (empty when signed out). */
export function useScopes(): readonly string[] {
  return useSession()?.scopes ?? [];
}
