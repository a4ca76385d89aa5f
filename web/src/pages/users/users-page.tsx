import { createConnectQueryKey, useMutation, useQuery, useTransport } from "@connectrpc/connect-query";
import { useQueryClient } from "@tanstack/react-query";
import { AuditService, AuthService, Role } from "@vigil/proto";
import { type FormEvent, useId, useState } from "react";
import { errorMessage } from "../../api/transport.ts";
import { PageHeading } from "../../app/page-heading.tsx";
import { useScopes } from "../../auth/session-context.tsx";
import { QueryState } from "../../ui/query-state.tsx";
import { ScrollRegion } from "../../ui/scroll-region.tsx";
import { formatDateTime, ms } from "../../ui/time.ts";

/**
 * Users as far as the API goes today: create one (AuthService/Register) and
 * see who was created, from the audit log. Listing, disabling and role
 * changes come with UserService (issue 13).
 */
export default function UsersPage() {
  const scopes = useScopes();
  return (
    <section>
      <PageHeading title="Users" />
      <CreateUser />
      {scopes.includes("audit:read") && <CreatedUsers />}
    </section>
  );
}

function CreateUser() {
  const id = useId();
  const transport = useTransport();
  const queryClient = useQueryClient();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState<Role>(Role.USER);
  const [created, setCreated] = useState<string>();
  const register = useMutation(AuthService.method.register, {
    onSuccess: (res) => {
      setCreated(res.user?.username);
      setUsername("");
      setPassword("");
      void queryClient.invalidateQueries({
        queryKey: createConnectQueryKey({ schema: AuditService, transport, cardinality: undefined }),
      });
    },
  });
  function submit(e: FormEvent) {
    e.preventDefault();
    setCreated(undefined);
    register.mutate({ username: username.trim(), password, role });
  }
  return (
    <section aria-labelledby={`${id}-heading`}>
      <h2 id={`${id}-heading`}>Create a user</h2>
      <form className="stack narrow" onSubmit={submit}>
        <div className="field">
          <label htmlFor={`${id}-username`}>Username</label>
          <input
            id={`${id}-username`}
            autoComplete="off"
            required
            minLength={3}
            maxLength={64}
            pattern="[A-Za-z0-9._@\-]+"
            aria-describedby={`${id}-username-hint`}
            value={username}
            onChange={(e) => setUsername(e.target.value)}
          />
          <span id={`${id}-username-hint`} className="hint">
            3 to 64 letters, digits, dots, dashes, underscores or @.
          </span>
        </div>
        <div className="field">
          <label htmlFor={`${id}-password`}>Password</label>
          <input
            id={`${id}-password`}
            type="password"
            autoComplete="new-password"
            required
            minLength={12}
            maxLength={1024}
            aria-describedby={`${id}-password-hint`}
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
          <span id={`${id}-password-hint`} className="hint">
            At least 12 characters. Give it to the user over a safe channel.
          </span>
        </div>
        <fieldset>
          <legend>Role</legend>
          <div className="field checkbox">
            <input
              id={`${id}-role-user`}
              type="radio"
              name="role"
              checked={role === Role.USER}
              onChange={() => setRole(Role.USER)}
            />
            <label htmlFor={`${id}-role-user`}>User: reads and corrects readings</label>
          </div>
          <div className="field checkbox">
            <input
              id={`${id}-role-admin`}
              type="radio"
              name="role"
              checked={role === Role.ADMIN}
              onChange={() => setRole(Role.ADMIN)}
            />
            <label htmlFor={`${id}-role-admin`}>Admin: everything, including devices, users and the audit log</label>
          </div>
        </fieldset>
        <button type="submit" className="primary" disabled={register.isPending}>
          Create user
        </button>
        {created && (
          <p className="notice" role="status">
            User {created} created.
          </p>
        )}
        {register.error && (
          <p className="error" role="alert">
            {errorMessage(register.error)}
          </p>
        )}
      </form>
    </section>
  );
}

function CreatedUsers() {
  const q = useQuery(AuditService.method.listAuditLog, { action: "user.create", pageSize: 200 });
  return (
    <section aria-labelledby="created-users">
      <h2 id="created-users">Users created</h2>
      <p className="muted">From the audit log (the newest 200).</p>
      <QueryState isPending={q.isPending} error={q.error}>
        <ScrollRegion label="Users created">
          <table>
            <caption className="visually-hidden">Users created, newest first</caption>
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">Role</th>
                <th scope="col">Created</th>
                <th scope="col">By</th>
              </tr>
            </thead>
            <tbody>
              {q.data?.entries.map((e) => {
                const details = (e.details ?? {}) as { username?: unknown; role?: unknown };
                return (
                  <tr key={String(e.id)}>
                    <th scope="row">{String(details.username ?? e.target.replace(/^user:/, ""))}</th>
                    <td>{typeof details.role === "string" ? details.role : "—"}</td>
                    <td>{formatDateTime(ms(e.time))}</td>
                    <td>{e.actor}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </ScrollRegion>
      </QueryState>
    </section>
  );
}
