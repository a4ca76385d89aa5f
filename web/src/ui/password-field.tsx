import type { ReactNode } from "react";

/** The server's bound on any password it is sent (sign-in, ChangePassword, CreateUser). */
const MAX_PASSWORD_LENGTH = 1024;

/**
 * A password input with its label, and beneath it a hint or, while the value
 * is wrong, an error: sign-in, "Your account" and creating a user share it, so
 * each carries the same length bound and the same accessible wiring (the hint
 * or error is the input's description, `<id>-hint` or `<id>-error`).
 */
export function PasswordField(props: {
  id: string;
  label: string;
  autoComplete: "current-password" | "new-password";
  value: string;
  onChange: (value: string) => void;
  name?: string;
  /** Set for a password being chosen (the server's minimum), not for one being typed to check. */
  minLength?: number;
  hint?: ReactNode;
  /** Shown instead of the hint, and marks the input invalid. */
  error?: ReactNode;
}) {
  const { id, hint, error } = props;
  const described = error ? `${id}-error` : hint ? `${id}-hint` : undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{props.label}</label>
      <input
        id={id}
        name={props.name}
        type="password"
        autoComplete={props.autoComplete}
        required
        minLength={props.minLength}
        maxLength={MAX_PASSWORD_LENGTH}
        aria-invalid={error ? true : undefined}
        aria-describedby={described}
        value={props.value}
        onChange={(e) => props.onChange(e.target.value)}
      />
      {error ? (
        <span id={`${id}-error`} className="hint">
          {error}
        </span>
      ) : (
        hint && (
          <span id={`${id}-hint`} className="hint">
            {hint}
          </span>
        )
      )}
    </div>
  );
}
