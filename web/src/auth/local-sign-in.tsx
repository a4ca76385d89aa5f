import { Code, ConnectError } from "@connectrpc/connect";
import { useMutation } from "@connectrpc/connect-query";
import { AuthService } from "@vigil/proto";
import { type FormEvent, useId, useState } from "react";
import { errorMessage } from "../api/transport.ts";
import { PasswordField } from "../ui/password-field.tsx";
import type { SignInMethodProps } from "./sign-in-methods.ts";

/** Username and password, checked by AuthService/Login. */
export function LocalSignIn({ onSignedIn }: SignInMethodProps) {
  const id = useId();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const login = useMutation(AuthService.method.login);

  function submit(e: FormEvent) {
    e.preventDefault();
    login.mutate(
      { username: username.trim(), password },
      {
        onSuccess: (res) => {
          if (res.tokens) onSignedIn(res.tokens);
        },
        onSettled: () => setPassword(""),
      },
    );
  }

  let failure: string | undefined;
  if (login.error) {
    const e = ConnectError.from(login.error);
    failure =
      e.code === Code.Unauthenticated || e.code === Code.InvalidArgument
        ? "Wrong username or password."
        : e.code === Code.ResourceExhausted
          ? `Too many sign-in attempts. ${e.rawMessage}`
          : errorMessage(e);
  }

  return (
    <form className="stack" onSubmit={submit} aria-describedby={failure ? `${id}-error` : undefined}>
      <div className="field">
        <label htmlFor={`${id}-username`}>Username</label>
        <input
          id={`${id}-username`}
          name="username"
          autoComplete="username"
          required
          maxLength={64}
          value={username}
          onChange={(e) => setUsername(e.target.value)}
        />
      </div>
      <PasswordField
        id={`${id}-password`}
        name="password"
        label="Password"
        autoComplete="current-password"
        value={password}
        onChange={setPassword}
      />
      {failure && (
        <p id={`${id}-error`} className="error" role="alert">
          {failure}
        </p>
      )}
      <button type="submit" className="primary" disabled={login.isPending}>
        {login.isPending ? "Signing in…" : "Sign in"}
      </button>
    </form>
  );
}
