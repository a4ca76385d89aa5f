import { Code, type ConnectError } from "@connectrpc/connect";
import { fieldViolations } from "@vigil/client";

/** An API error as the CLI prints it: the server's message and what the operator can do about it. */
export function describeError(err: ConnectError, server: string): string {
  const lines = [`vigil: ${err.message}`];
  const violations = fieldViolations(err);
  // The message names the first field already; list them all when there are more.
  if (violations.length > 1) for (const v of violations) lines.push(`  ${v.field}: ${v.description}`);
  switch (err.code) {
    case Code.Unauthenticated:
      lines.push(`  sign in: vigil login --server ${server}`);
      break;
    case Code.PermissionDenied:
      lines.push("  the signed-in user lacks the scope this needs (most operator commands are for admins)");
      break;
    case Code.Unavailable:
      lines.push(`  is the query service running at ${server}? (--server or VIGIL_SERVER)`);
      break;
  }
  return lines.join("\n");
}
