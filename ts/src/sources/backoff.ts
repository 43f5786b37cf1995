/** Exponential backoff with jitter, for reconnects and REST retries. */

export interface BackoffOptions {
  /** First delay (ms). Default 500. */
  baseMs?: number;
  /** Largest delay (ms). Default 30000. */
  maxMs?: number;
  /** Share of the delay that is randomised, 0..1. Default 0.5 ("equal jitter"). */
  jitter?: number;
}

/**
 * Delay before retry number `attempt` (0-based): min(max, base * 2^attempt), of which the
 * `jitter` share is replaced by a uniform random amount, so clients that lost the same
 * server do not come back in lock-step. `random` is injectable for tests.
 */
export function backoffDelayMs(attempt: number, opts: BackoffOptions = {}, random: () => number = Math.random): number {
  const base = opts.baseMs ?? 500;
  const max = opts.maxMs ?? 30_000;
  const jitter = Math.min(1, Math.max(0, opts.jitter ?? 0.5));
  const full = Math.min(max, base * 2 ** Math.min(attempt, 30));
  return Math.round(full * (1 - jitter) + full * jitter * random());
}
