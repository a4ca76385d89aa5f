import type { Tokens } from "@vigil/proto";
import type { ComponentType } from "react";
import { LocalSignIn } from "./local-sign-in.tsx";

/** Props every sign-in method gets: call onSignedIn with the API's tokens. */
export interface SignInMethodProps {
  onSignedIn: (tokens: Tokens) => void;
}

export interface SignInMethod {
  id: string;
  Component: ComponentType<SignInMethodProps>;
}

/**
 * The ways to sign in, shown in this order on the sign-in page. Single
 * sign-on (issue 13) is added here as one more entry: a button that starts
 * the provider's flow, and a route that hands the Tokens the API returns for
 * the provider's code to onSignedIn, exactly like the local form does.
 */
export const signInMethods: SignInMethod[] = [{ id: "local", Component: LocalSignIn }];
