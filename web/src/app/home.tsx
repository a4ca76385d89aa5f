import { Navigate } from "react-router";
import { useScopes } from "../auth/session-context.tsx";
import { canOpen } from "../pages/console-page.ts";
import { PageHeading } from "./page-heading.tsx";
import { navPages } from "./pages.ts";

/** The first page the user may open; a short welcome when the navigation offers none. */
export function Home() {
  const scopes = useScopes();
  const first = [...navPages("main"), ...navPages("admin")].find((p) => canOpen(p, scopes));
  if (first) return <Navigate to={`/${first.path}`} replace />;
  return (
    <section>
      <PageHeading title="Welcome" />
      <p>Open a device with the box at the top of the page: type its code and number, such as DEMO-1.</p>
    </section>
  );
}
