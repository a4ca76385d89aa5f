import { createConnectQueryKey, useMutation, useQuery, useTransport } from "@connectrpc/connect-query";
import { useQueryClient } from "@tanstack/react-query";
import { type Role, type User, UserService } from "@vigil/proto";
import { useId, useState } from "react";
import { errorMessage } from "../../api/transport.ts";
import { useSession } from "../../auth/session-context.tsx";
import { QueryState } from "../../ui/query-state.tsx";
import { ScrollRegion } from "../../ui/scroll-region.tsx";
import { formatDateTime, ms } from "../../ui/time.ts";
import { ROLE_CHOICES } from "./roles.ts";

/** Users shown at once; the API pages beyond (a hospital's staff fits). */
const PAGE_SIZE = 1000;

/** A change waiting for its confirmation button: deleting, disabling or resetting a password ends sessions. */
type Pending = { username: string; action: "disable" | "delete" | "reset" };

/**
 * Every account (deleted ones are not listed) with its role, state and
 * actions. Each action ends the user's sessions at once on the server, so
 * the ones that lock someone out ask for a second click; the server's guards
 * (the last admin, oneself) answer with their reason.
 */
export function UserList() {
  const id = useId();
  const me = useSession()?.username;
  const transport = useTransport();
  const queryClient = useQueryClient();
  const q = useQuery(UserService.method.listUsers, { pageSize: PAGE_SIZE });
  const [pending, setPending] = useState<Pending>();
  const [message, setMessage] = useState<string>();
  const [generated, setGenerated] = useState<{ username: string; password: string }>();
  const refresh = () =>
    queryClient.invalidateQueries({
      queryKey: createConnectQueryKey({ schema: UserService, transport, cardinality: undefined }),
    });
  const done = (text: string) => {
    setPending(undefined);
    setMessage(text);
    void refresh();
  };
  const disable = useMutation(UserService.method.disableUser, {
    onSuccess: (_, req) => done(`${req.username} is disabled: every session and token of theirs has ended.`),
  });
  const enable = useMutation(UserService.method.enableUser, {
    onSuccess: (_, req) => done(`${req.username} may sign in again.`),
  });
  const remove = useMutation(UserService.method.deleteUser, {
    onSuccess: (_, req) => done(`${req.username} is deleted; their entries in the audit log stay.`),
  });
  const setRole = useMutation(UserService.method.setUserRole, {
    onSuccess: (res) => done(`${res.user?.username} is now ${roleName(res.user?.role)}; their live tokens have ended.`),
  });
  const reset = useMutation(UserService.method.resetPassword, {
    onSuccess: (res, req) => {
      done(`${req.username}'s password is reset: every session of theirs has ended.`);
      setGenerated({ username: res.user?.username ?? "", password: res.generatedPassword });
    },
  });
  const mutations = [disable, enable, remove, setRole, reset];
  const busy = mutations.some((m) => m.isPending);
  const failure = mutations.find((m) => m.error)?.error;
  /** Forgets the last outcome before the next action. */
  const clear = () => {
    for (const m of mutations) m.reset();
    setMessage(undefined);
    setGenerated(undefined);
    setPending(undefined);
  };

  return (
    <section aria-labelledby={`${id}-heading`}>
      <h2 id={`${id}-heading`}>People</h2>
      <QueryState isPending={q.isPending} error={q.error}>
        <ScrollRegion label="Users">
          <table>
            <caption className="visually-hidden">Users by name, with role and state</caption>
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">Role</th>
                <th scope="col">Created</th>
                <th scope="col">State</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {q.data?.users.map((u) => (
                <UserRow
                  key={u.username}
                  user={u}
                  self={u.username === me}
                  busy={busy}
                  pending={pending?.username === u.username ? pending.action : undefined}
                  onStart={(action) => {
                    clear();
                    setPending({ username: u.username, action });
                  }}
                  onCancel={() => setPending(undefined)}
                  onConfirm={(action) => {
                    const username = u.username;
                    if (action === "disable") disable.mutate({ username });
                    else if (action === "delete") remove.mutate({ username });
                    else reset.mutate({ username, password: "" });
                  }}
                  onEnable={() => {
                    clear();
                    enable.mutate({ username: u.username });
                  }}
                  onRole={(role) => {
                    clear();
                    setRole.mutate({ username: u.username, role });
                  }}
                />
              ))}
            </tbody>
          </table>
        </ScrollRegion>
      </QueryState>
      {message && (
        <p className="notice" role="status">
          {message}
        </p>
      )}
      {generated?.password && (
        <div className="notice" role="status">
          <p>{generated.username}'s new password, shown this once: give it to them over a safe channel.</p>
          <p>
            <code className="secret">{generated.password}</code>{" "}
            <button type="button" onClick={() => void navigator.clipboard?.writeText(generated.password)}>
              Copy
            </button>
          </p>
        </div>
      )}
      {failure && (
        <p className="error" role="alert">
          {errorMessage(failure)}
        </p>
      )}
    </section>
  );
}

function UserRow(props: {
  user: User;
  self: boolean;
  busy: boolean;
  pending: Pending["action"] | undefined;
  onStart(action: Pending["action"]): void;
  onCancel(): void;
  onConfirm(action: Pending["action"]): void;
  onEnable(): void;
  onRole(role: Role): void;
}) {
  const { user: u, self, busy, pending } = props;
  const id = useId();
  const disabled = ms(u.disableTime);
  const confirmText = { disable: "disable", delete: "delete for good", reset: "reset the password of" };
  return (
    <tr>
      <th scope="row">
        {u.username}
        {self && <span className="muted"> (you)</span>}
      </th>
      <td>
        <label htmlFor={`${id}-role`} className="visually-hidden">
          Role of {u.username}
        </label>
        <select
          id={`${id}-role`}
          value={u.role}
          disabled={busy}
          onChange={(e) => props.onRole(Number(e.target.value) as Role)}
        >
          {ROLE_CHOICES.map((r) => (
            <option key={r.value} value={r.value}>
              {r.label}
            </option>
          ))}
        </select>
      </td>
      <td>{formatDateTime(ms(u.createTime))}</td>
      <td>{disabled ? `Disabled ${formatDateTime(disabled)}` : "Enabled"}</td>
      <td>
        {pending ? (
          <span className="confirm">
            <button type="button" className="danger" disabled={busy} onClick={() => props.onConfirm(pending)}>
              Confirm: {confirmText[pending]} {u.username}
            </button>
            <button type="button" onClick={props.onCancel}>
              Cancel
            </button>
          </span>
        ) : (
          <span className="confirm">
            {disabled ? (
              <button type="button" disabled={busy} onClick={props.onEnable}>
                Enable<span className="visually-hidden"> {u.username}</span>
              </button>
            ) : (
              !self && (
                <button type="button" disabled={busy} onClick={() => props.onStart("disable")}>
                  Disable<span className="visually-hidden"> {u.username}</span>
                </button>
              )
            )}
            {!self && (
              <button type="button" disabled={busy} onClick={() => props.onStart("reset")}>
                Reset password<span className="visually-hidden"> of {u.username}</span>
              </button>
            )}
            {!self && (
              <button type="button" disabled={busy} onClick={() => props.onStart("delete")}>
                Delete<span className="visually-hidden"> {u.username}</span>
              </button>
            )}
          </span>
        )}
      </td>
    </tr>
  );
}

function roleName(role: Role | undefined): string {
  return ROLE_CHOICES.find((r) => r.value === role)?.label.toLowerCase() ?? "changed";
}
