import { Code, ConnectError } from "@connectrpc/connect";
import { useMutation, useQuery } from "@connectrpc/connect-query";
import { SsoService } from "@vigil/proto";
import { useEffect, useRef, useState } from "react";
import { useNavigate, useSearchParams } from "react-router";
import { errorMessage } from "../api/transport.ts";
import { safeNext } from "./safe-next.ts";
import type { SignInMethodProps } from "./sign-in-methods.ts";

/** Where to go after the provider, kept across the round trip (this tab only). */
const NEXT_KEY = "vigil.sso.next";

/** What the query service's callback can report (`/sign-in#sso_error=…`), in words. */
const FAILURES: Record<string, string> = {
  unmapped:
    "Your account at the identity provider is in no group that Vigil gives a role to. Ask an administrator to grant you access.",
  disabled: "Your Vigil account is disabled. Ask an administrator.",
  expired: "The sign-in took too long or was started elsewhere. Try again.",
  denied: "The identity provider did not sign you in.",
  busy: "Too many sign-ins right now. Try again in a minute.",
  unavailable: "The identity provider cannot be reached. Try again later, or sign in with a password.",
  failed: "Single sign-on failed. Try again.",
};

/**
 * "Sign in with <provider>", shown when the query service has single sign-on
 * configured (SsoService/GetSsoConfig). The button leaves for the provider
 * through /auth/oidc/login; back here, the callback's one-minute code is
 * read from the URL fragment, removed from the address bar and history at
 * once, and exchanged (once) for the API's tokens.
 */
export function SsoSignIn({ onSignedIn }: SignInMethodProps) {
  const config = useQuery(SsoService.method.getSsoConfig, {});
  const exchange = useMutation(SsoService.method.exchangeSsoCode);
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const [failure, setFailure] = useState<string | undefined>();
  const handled = useRef(false);

  useEffect(() => {
    if (handled.current) return;
    handled.current = true;
    const fragment = new URLSearchParams(window.location.hash.slice(1));
    const code = fragment.get("sso_code");
    const error = fragment.get("sso_error");
    if (!code && !error) return;
    const next = sessionStorage.getItem(NEXT_KEY);
    sessionStorage.removeItem(NEXT_KEY);
    // Replaces this history entry: the code must not stay in the address bar, the history or a
    // bookmark. Where the user was going comes back as ?next=, which the sign-in page follows.
    navigate(next && safeNext(next) !== "/" ? `/sign-in?next=${encodeURIComponent(safeNext(next))}` : "/sign-in", {
      replace: true,
    });
    if (error) {
      setFailure(FAILURES[error] ?? FAILURES.failed);
      return;
    }
    exchange.mutate(
      { code: code ?? "" },
      {
        onSuccess: (res) => {
          if (res.tokens) onSignedIn(res.tokens);
        },
        onError: (err) => {
          const e = ConnectError.from(err);
          setFailure(e.code === Code.Unauthenticated ? FAILURES.expired : errorMessage(e));
        },
      },
    );
  }, [exchange, navigate, onSignedIn]);

  if (!config.data?.enabled && !failure && !exchange.isPending) return null;
  const loginPath = config.data?.loginPath || "/auth/oidc/login";
  const label = config.data?.displayName || "single sign-on";

  return (
    <div className="stack sso">
      {failure && (
        <p className="error" role="alert">
          {failure}
        </p>
      )}
      {config.data?.enabled && (
        <button
          type="button"
          disabled={exchange.isPending}
          onClick={() => {
            sessionStorage.setItem(NEXT_KEY, safeNext(params.get("next")));
            window.location.assign(loginPath);
          }}
        >
          {exchange.isPending ? "Signing in…" : `Sign in with ${label}`}
        </button>
      )}
    </div>
  );
}
