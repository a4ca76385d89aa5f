/**
 * ready(), asked at most once per `maxAgeMs` however many callers ask: what
 * anonymous callers (health checks and watches, /readyz on the API port)
 * get, so that no number of them turns into database round trips.
 */
export function sharedReadiness(ready: () => Promise<boolean>, maxAgeMs: number): () => Promise<boolean> {
  let last: { at: number; value: Promise<boolean> } | undefined;
  return () => {
    const now = performance.now();
    if (!last || now - last.at > maxAgeMs) last = { at: now, value: ready().catch(() => false) };
    return last.value;
  };
}
