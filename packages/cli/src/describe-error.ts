import { Code, type ConnectError } from "@connectrpc/connect";

/** An API error as the CLI prints it: the server's message and what the operator can do about it. */
export function describeError(err: ConnectError, server: string): string {
  const lines = [`vigil: ${err.message}`];
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
