import type { Logger } from 'pino';
import { LogLimiter } from '../log-limit.js';

/** Levels a rate-limited line can be written at. */
export type LimitedLevel = 'debug' | 'info' | 'warn' | 'error';

export interface RateLimitedLogOptions {
  /** Lines written per key in each interval; default 3. */
  burst?: number;
  /** Length of an interval in milliseconds, and the least time between two summaries of a key; default 60,000. */
  intervalMs?: number;
  /** Keys tracked at once; past it, the least recently started are forgotten. Default 64. */
  maxKeys?: number;
  /** The clock, in milliseconds; default Date.now. */
  now?: () => number;
}

/**
 * A logger for lines that records can cause, so that a flood of bad records (or a broker away for
 * an hour) writes a few examples and counts, not a line per record.
 */
export interface RateLimitedLog {
  /**
   * Writes `fields` and `msg` at `level` unless `key` has written its burst in this interval.
   * Once an interval has passed, the lines of `key` left out are first counted in one summary
   * line: `{ event, limit_key, suppressed }` with the `event` of `fields`, if it has one.
   */
  write(level: LimitedLevel, key: string, fields: Record<string, unknown>, msg: string): void;
  warn(key: string, fields: Record<string, unknown>, msg: string): void;
  error(key: string, fields: Record<string, unknown>, msg: string): void;
}

/** A rate-limited view of `logger`: the helper a plugin uses for lines its records can cause. */
export function rateLimitedLog(logger: Logger, opts: RateLimitedLogOptions = {}): RateLimitedLog {
  const limiter = new LogLimiter({ burst: opts.burst ?? 3, intervalMs: opts.intervalMs ?? 60_000, renew: true, maxKeys: opts.maxKeys ?? 64 });
  const now = opts.now ?? Date.now;
  const write = (level: LimitedLevel, key: string, fields: Record<string, unknown>, msg: string) => {
    const d = limiter.take(key, now());
    if (d.suppressed) {
      const event = typeof fields.event === 'string' ? { event: fields.event } : {};
      logger[level]({ ...event, limit_key: key, suppressed: d.suppressed }, `${d.suppressed} lines left out (${key})`);
    }
    if (d.write) logger[level](fields, msg);
  };
  return {
    write,
    warn: (key, fields, msg) => write('warn', key, fields, msg),
    error: (key, fields, msg) => write('error', key, fields, msg),
  };
}
