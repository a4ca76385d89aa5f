import { createConnectQueryKey, useMutation, useTransport } from "@connectrpc/connect-query";
import { useQueryClient } from "@tanstack/react-query";
import { AuthService, Role, UserService } from "@vigil/proto";
import { type FormEvent, useId, useState } from "react";
import { errorMessage } from "../../api/transport.ts";
import { PageHeading } from "../../app/page-heading.tsx";
import { PasswordField } from "../../ui/password-field.tsx";
import { ROLE_CHOICES } from "./roles.ts";
import { UserList } from "./user-list.tsx";

/**
 * People's accounts, for admins: create one (AuthService/Register), and list,
 * disable, enable, change the role of, reset the password of and delete
 * them (UserService).
 */
export default function UsersPage() {
  return (
    <section>
      <PageHeading title="Users" />
      <UserList />
      <CreateUser />
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
        queryKey: createConnectQueryKey({ schema: UserService, transport, cardinality: undefined }),
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
        <PasswordField
          id={`${id}-password`}
          label="Password"
          autoComplete="new-password"
          minLength={12}
          hint="At least 12 characters. Give it to the user over a safe channel."
          value={password}
          onChange={setPassword}
        />
        <fieldset>
          <legend>Role</legend>
          {ROLE_CHOICES.map((r) => (
            <div className="field checkbox" key={r.value}>
              <input
                id={`${id}-role-${r.value}`}
                type="radio"
                name="role"
                checked={role === r.value}
                onChange={() => setRole(r.value)}
              />
              <label htmlFor={`${id}-role-${r.value}`}>
                {r.label}: {r.does}
              </label>
            </div>
          ))}
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
