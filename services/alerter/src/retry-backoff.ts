/** The first retry waits up to this long; each later one up to twice the one before. */
export const FIRST_BACKOFF_MS = 1_000;

/**
 * Exponential backoff with jitter: a random time between half and all of
 * min(cap, 1 s × 2^attempts). The jitter spreads the retries of many
 * deliveries that failed together (a receiver that was down) so they do not
 * come back at the same instant.
 */
export function retryBackoffMs(attempts: number, maxBackoffMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxBackoffMs, FIRST_BACKOFF_MS * 2 ** Math.min(attempts, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
