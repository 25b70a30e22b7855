/**
 * Log limiting for lines a vehicle can cause. Vehicles control how often the server has
 * something to say about them (every bad frame is a reason to warn), so unlimited, they control
 * the log volume: a million hostile frames were 861 MB of log. Counters in /metrics keep the
 * exact numbers; the log keeps a few examples and a count of what it left out.
 *
 * Pure: no timers and no module-level state; the caller passes the time.
 */

/** What to do with one line the caller wants to write. */
export interface LogDecision {
  /** Write the line. */
  write: boolean;
  /**
   * Before it (or instead of it, when `write` is false), write one summary line saying this
   * many lines for the key were left out since the last summary.
   */
  suppressed?: number;
}

export interface LogLimitOptions {
  /** Lines written per key before the limiter starts leaving lines out. */
  burst: number;
  /** At most one summary line per key per this many milliseconds. */
  intervalMs: number;
  /**
   * When true, `burst` lines are allowed again in every interval (a rate, for the process-wide
   * cap); when false, only the first `burst` lines ever are written (per connection).
   */
  renew: boolean;
  /** Keys tracked at once; past it, the least recently started ones are forgotten. */
  maxKeys?: number;
}

interface KeyState {
  /** Lines written in the current interval (or ever, without renew). */
  written: number;
  /** Lines left out since the last summary. */
  suppressed: number;
  /** Start of the current interval: the last summary, or the first line. */
  since: number;
}

export class LogLimiter {
  private readonly keys = new Map<string, KeyState>();
  private readonly maxKeys: number;

  constructor(private readonly opts: LogLimitOptions) {
    this.maxKeys = opts.maxKeys ?? 1024;
  }

  /** Decides for one line of `key` at time `now` (ms). */
  take(key: string, now: number): LogDecision {
    let s = this.keys.get(key);
    if (!s) {
      if (this.keys.size >= this.maxKeys) this.keys.delete(this.keys.keys().next().value!);
      s = { written: 0, suppressed: 0, since: now };
      this.keys.set(key, s);
    }
    const due = now - s.since >= this.opts.intervalMs;
    if (due) {
      const suppressed = s.suppressed;
      s.since = now;
      s.suppressed = 0;
      if (this.opts.renew) s.written = 0;
      if (s.written < this.opts.burst) {
        s.written++;
        return suppressed ? { write: true, suppressed } : { write: true };
      }
      // Without renew, this line is itself one of those the summary stands for.
      return { write: false, suppressed: suppressed + 1 };
    }
    if (s.written < this.opts.burst) {
      s.written++;
      return { write: true };
    }
    s.suppressed++;
    return { write: false };
  }

  /** Lines left out and not yet summarized, per key, and forgets them (a connection closing). */
  flush(): [key: string, suppressed: number][] {
    const out: [string, number][] = [];
    for (const [k, s] of this.keys) if (s.suppressed) out.push([k, s.suppressed]);
    this.keys.clear();
    return out;
  }
}

/** Longest text of a vehicle's that goes into a log line whole. */
const LOG_TEXT_MAX = 128;

/**
 * A value the vehicle controls (txid, sender_id, record type, a reason quoting frame content),
 * cut for a log line: the first `max` characters and the full size in bytes.
 */
export function shortenForLog(value: string, max = LOG_TEXT_MAX): string {
  if (value.length <= max) return value;
  return `${value.slice(0, max)}…(${Buffer.byteLength(value, 'utf8')} bytes)`;
}
