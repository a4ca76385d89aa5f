import type { Tokens } from "@vigil/proto";
import type { ComponentType } from "react";
import { LocalSignIn } from "./local-sign-in.tsx";
import { SsoSignIn } from "./sso-sign-in.tsx";

/** Props every sign-in method gets: call onSignedIn with the API's tokens. */
export interface SignInMethodProps {
  onSignedIn: (tokens: Tokens) => void;
}

export interface SignInMethod {
  id: string;
  Component: ComponentType<SignInMethodProps>;
}

/**
 * The ways to sign in, shown in this order on the sign-in page: a username
 * and password, then single sign-on when the query service has it configured
 * (a button that starts the provider's flow; back from it, the code the
 * callback left is exchanged for the API's Tokens, handed to onSignedIn
 * exactly like the local form's).
 */
export const signInMethods: SignInMethod[] = [
  { id: "local", Component: LocalSignIn },
  { id: "sso", Component: SsoSignIn },
];
