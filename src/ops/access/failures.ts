/**
 * Failed credentials per client address: past `limit` in a window, every attempt from that address
 * is refused until the window ends, so a token cannot be guessed at network speed. Pure: the
 * caller passes the time; bounded to `maxKeys` addresses (the oldest window forgotten first).
 */
export class FailureLimiter {
  private readonly seen = new Map<string, { start: number; count: number }>();

  constructor(private readonly opts: { limit: number; windowMs: number; maxKeys: number }) {}

  /** Milliseconds until `key` may try again; 0 when it may now. */
  blockedFor(key: string, now: number): number {
    const s = this.seen.get(key);
    if (!s || now - s.start >= this.opts.windowMs) return 0;
    return s.count >= this.opts.limit ? this.opts.windowMs - (now - s.start) : 0;
  }

  failed(key: string, now: number): void {
    let s = this.seen.get(key);
    if (!s || now - s.start >= this.opts.windowMs) {
      this.seen.delete(key);
      s = { start: now, count: 0 };
      if (this.seen.size >= this.opts.maxKeys) this.seen.delete(this.seen.keys().next().value!);
      this.seen.set(key, s);
    }
    s.count++;
  }
}
