import { useEffect } from "react";
import { Navigate, useSearchParams } from "react-router";
import { safeNext } from "./safe-next.ts";
import { useSession, useSessionStore } from "./session-context.tsx";
import { signInMethods } from "./sign-in-methods.ts";

export function SignInPage() {
  const store = useSessionStore();
  const session = useSession();
  const [params] = useSearchParams();
  useEffect(() => {
    document.title = "Sign in · Vigil";
  }, []);
  if (session) return <Navigate to={safeNext(params.get("next"))} replace />;
  const reason = store.lastSignOutReason;
  return (
    <main id="main" className="sign-in">
      <div className="card">
        <p className="brand" aria-hidden="true">
          Vigil
        </p>
        <h1>Sign in</h1>
        {reason === "expired" && (
          <p className="notice" role="status">
            Your session has ended. Sign in again to continue.
          </p>
        )}
        {signInMethods.map((m) => (
          <m.Component key={m.id} onSignedIn={(tokens) => store.signIn(tokens)} />
        ))}
      </div>
    </main>
  );
}
