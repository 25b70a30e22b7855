/**
 * Retry delays: `baseMs` doubled per failed attempt up to `capMs`, each spread by ±`jitter` (a
 * fraction) so many clients that lost the same peer do not come back in step.
 */

/** Spread of a delay unless told otherwise: ±20%. */
const JITTER = 0.2;

/**
 * The delay before retry `attempt` (0 for the first), in whole ms: never above the cap, never
 * below 1 ms. `random` gives [0, 1); tests pin it.
 */
export function backoffDelay(attempt: number, baseMs: number, capMs: number, random: () => number = Math.random, jitter = JITTER): number {
  const base = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  const spread = 1 - jitter + 2 * jitter * random();
  return Math.max(1, Math.round(Math.min(capMs, base * spread)));
}

/** The attempt count behind backoffDelay: `next()` after each failure, `reset()` after a success. */
export class Backoff {
  attempt = 0;

  constructor(
    readonly baseMs: number,
    readonly capMs: number,
    private readonly random: () => number = Math.random,
    private readonly jitter = JITTER,
  ) {}

  next(): number {
    return backoffDelay(this.attempt++, this.baseMs, this.capMs, this.random, this.jitter);
  }

  reset(): void {
    this.attempt = 0;
  }
}
