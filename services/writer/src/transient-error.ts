/**
 * True for errors worth retrying as they are: lost connections, a server
 * shutting down or out of resources, serialization failures, deadlocks.
 * Errors without a SQLSTATE (network, unknown) count as transient too: the
 * writer would rather wait than set data aside. Other SQLSTATEs are
 * permanent for this attempt: the group is halved to find the batch at
 * fault, which is then judged by isDataError.
 */
export function isTransientDbError(err: unknown): boolean {
  if (isDataError(err)) return false;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== "string" || !/^[0-9A-Z]{5}$/.test(code)) return true;
  const sqlClass = code.slice(0, 2);
  return ["08", "40", "53", "57", "58"].includes(sqlClass) || code === "55P03";
}

/**
 * True when the database refused the batch for its own data: SQLSTATE
 * class 22 (data exception) or 23 (integrity constraint), or a sensor name
 * the dictionary cannot take. Only these set an acked batch aside; any other
 * permanent error is the database's or the writer's, and the batch waits.
 */
export function isDataError(err: unknown): boolean {
  if ((err as Error | null)?.name === "SensorDictionaryError") return true;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^2[23][0-9A-Z]{3}$/.test(code);
}
