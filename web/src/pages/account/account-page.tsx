import { useMutation } from "@connectrpc/connect-query";
import { AuthService } from "@vigil/proto";
import { type FormEvent, useId, useState } from "react";
import { errorMessage } from "../../api/transport.ts";
import { PageHeading } from "../../app/page-heading.tsx";
import { useSession, useSessionStore } from "../../auth/session-context.tsx";
import { PasswordField } from "../../ui/password-field.tsx";

/**
 * Change one's own password (AuthService/ChangePassword). The server ends
 * every other session of the user and answers with a new sign-in, which this
 * tab keeps: the user stays signed in here.
 */
export default function AccountPage() {
  const id = useId();
  const session = useSession();
  const store = useSessionStore();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [again, setAgain] = useState("");
  const [changed, setChanged] = useState(false);
  const change = useMutation(AuthService.method.changePassword, {
    onSuccess: (res) => {
      if (res.tokens) store.signIn(res.tokens);
      setCurrent("");
      setNext("");
      setAgain("");
      setChanged(true);
    },
  });
  const mismatch = again.length > 0 && again !== next;
  function submit(e: FormEvent) {
    e.preventDefault();
    setChanged(false);
    if (next !== again) return;
    change.mutate({ currentPassword: current, newPassword: next });
  }
  return (
    <section>
      <PageHeading title="Your account" />
      <p>
        Signed in as <strong>{session?.username}</strong> ({session?.role}).
      </p>
      <section aria-labelledby={`${id}-heading`}>
        <h2 id={`${id}-heading`}>Change your password</h2>
        <form className="stack narrow" onSubmit={submit}>
          <PasswordField
            id={`${id}-current`}
            label="Current password"
            autoComplete="current-password"
            value={current}
            onChange={setCurrent}
          />
          <PasswordField
            id={`${id}-new`}
            label="New password"
            autoComplete="new-password"
            minLength={12}
            hint="At least 12 characters. Your other sessions (other browsers, the CLI) end and sign in again."
            value={next}
            onChange={setNext}
          />
          <PasswordField
            id={`${id}-again`}
            label="New password again"
            autoComplete="new-password"
            error={mismatch && "Does not match the new password."}
            value={again}
            onChange={setAgain}
          />
          <button type="submit" className="primary" disabled={change.isPending || mismatch}>
            Change password
          </button>
          {changed && (
            <p className="notice" role="status">
              Password changed. Your other sessions have ended; this one goes on.
            </p>
          )}
          {change.error && (
            <p className="error" role="alert">
              {errorMessage(change.error)}
            </p>
          )}
        </form>
      </section>
    </section>
  );
}
