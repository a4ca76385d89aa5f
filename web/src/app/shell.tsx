import { type FormEvent, useId, useState } from "react";
import { Link, NavLink, Outlet, useNavigate } from "react-router";
import { useSession, useSessionStore } from "../auth/session-context.tsx";
import { canOpen } from "../pages/console-page.ts";
import { parseDeviceName } from "./device-name.ts";
import { navPages } from "./pages.ts";

/** Header with navigation, a device jump box and the user menu; the page below. */
export function Shell() {
  const session = useSession();
  const store = useSessionStore();
  const scopes = session?.scopes ?? [];
  const main = navPages("main").filter((p) => canOpen(p, scopes));
  const admin = navPages("admin").filter((p) => canOpen(p, scopes));
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">Vigil</span>
        <nav aria-label="Main">
          <ul>
            {main.map((p) => (
              <li key={p.path}>
                <NavLink to={`/${p.path}`}>{p.nav?.label}</NavLink>
              </li>
            ))}
            {admin.length > 0 && (
              <li className="nav-section" aria-hidden="true">
                Admin
              </li>
            )}
            {admin.map((p) => (
              <li key={p.path}>
                <NavLink to={`/${p.path}`} aria-label={`Admin: ${p.nav?.label}`}>
                  {p.nav?.label}
                </NavLink>
              </li>
            ))}
          </ul>
        </nav>
        <DeviceJump />
        <div className="user">
          <span>
            <span className="visually-hidden">Signed in as </span>
            <Link to="/account" title="Your account: change your password">
              <strong>{session?.username}</strong>
            </Link>{" "}
            <span className="muted">({session?.role})</span>
          </span>
          <button type="button" onClick={() => void store.signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Outlet />
      </main>
    </>
  );
}

function DeviceJump() {
  const id = useId();
  const navigate = useNavigate();
  const [text, setText] = useState("");
  const [invalid, setInvalid] = useState(false);
  function submit(e: FormEvent) {
    e.preventDefault();
    const device = parseDeviceName(text);
    setInvalid(!device);
    if (device) {
      setText("");
      navigate(`/devices/${device.code}/${device.number}`);
    }
  }
  return (
    <search className="device-jump">
      <form onSubmit={submit}>
        <label htmlFor={`${id}-device`} className="visually-hidden">
          Open a device by name, such as DEMO-1
        </label>
        <input
          id={`${id}-device`}
          placeholder="Device, e.g. DEMO-1"
          value={text}
          aria-invalid={invalid || undefined}
          aria-describedby={invalid ? `${id}-hint` : undefined}
          onChange={(e) => setText(e.target.value)}
          maxLength={32}
        />
        <button type="submit">Open</button>
        {invalid && (
          <span id={`${id}-hint`} className="error" role="alert">
            Type a code and number, such as DEMO-1.
          </span>
        )}
      </form>
    </search>
  );
}
