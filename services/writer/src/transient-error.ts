/**
 * True for errors worth retrying as they are: lost connections, a server
 * shutting down or out of resources, serialization failures, deadlocks.
 * Errors without a SQLSTATE (network, unknown) count as transient too: the
 * writer would rather wait than set data aside. Any other SQLSTATE means
 * the data itself is the problem.
 */
export function isTransientDbError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== "string" || !/^[0-9A-Z]{5}$/.test(code)) return true;
  const sqlClass = code.slice(0, 2);
  return ["08", "40", "53", "57", "58"].includes(sqlClass) || code === "55P03";
}
