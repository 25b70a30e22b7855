/**
 * Reconnect delays: the first retry within a second (most losses are a broker restart), then
 * doubling up to `maxMs`, each with ±20% jitter so a fleet of servers does not reconnect in step.
 */
export class Backoff {
  attempt = 0;
  private readonly firstMs: number;

  constructor(readonly maxMs: number, firstMs = 750) {
    this.firstMs = Math.min(firstMs, maxMs);
  }

  next(): number {
    const base = Math.min(this.maxMs, this.firstMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.max(1, Math.round(Math.min(this.maxMs, base * (0.8 + Math.random() * 0.4))));
  }

  reset(): void {
    this.attempt = 0;
  }
}
