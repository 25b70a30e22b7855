/**
 * Sliding window of docs/protocol.md §3.1: at most `limit` frames within any `windowMs`. `delay()` says how long
 * the next frame must wait; nothing is ever dropped.
 */
export class SlidingWindow {
  private readonly times: Float64Array;
  private head = 0;
  private count = 0;

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {
    this.times = new Float64Array(limit);
  }

  /** Milliseconds until one more frame fits (0 when it fits now). */
  delay(now: number): number {
    if (this.count < this.limit) return 0;
    const oldest = this.times[this.head];
    return Math.max(0, oldest + this.windowMs - now);
  }

  record(now: number): void {
    this.times[this.head] = now;
    this.head = (this.head + 1) % this.limit;
    if (this.count < this.limit) this.count++;
  }
}
