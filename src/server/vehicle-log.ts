import type { Logger } from 'pino';
import { LogLimiter, type LogLimitOptions } from '../log-limit.js';

/** Per connection and event: the first 3 lines, then one summary a minute. */
const CONNECTION_LOG_LIMIT: LogLimitOptions = { burst: 3, intervalMs: 60_000, renew: false, maxKeys: 16 };
/** Process-wide per event, so 10,000 hostile connections cannot flood either: 20 lines a minute. */
const SERVER_LOG_LIMIT: LogLimitOptions = { burst: 20, intervalMs: 60_000, renew: true, maxKeys: 64 };

type Level = 'warn' | 'info' | 'debug';

/**
 * The log lines of one vehicle connection, limited per event for the connection and, through
 * `server`, for the whole process. The child logger (vin, connection_id) is made on first use.
 */
export class SessionLog {
  private limiter?: LogLimiter;
  private child?: Logger;

  constructor(
    private readonly root: Logger,
    private readonly bindings: Record<string, unknown>,
    /** The process-wide limiter, shared by every connection. */
    private readonly server?: LogLimiter,
    private readonly now: () => number = Date.now,
    /** Told of each line left out (metrics keep the exact count). */
    private readonly onSuppressed?: (event: string) => void,
  ) {}

  /** Writes `fields` (which must hold `event`) unless the limits say otherwise. */
  line(level: Level, fields: { event: string } & Record<string, unknown>, msg: string): void {
    if (!this.root.isLevelEnabled(level)) return;
    const now = this.now();
    const d = (this.limiter ??= new LogLimiter(CONNECTION_LOG_LIMIT)).take(fields.event, now);
    if (d.suppressed) this.summary(level, fields.event, d.suppressed, now);
    if (d.write && this.serverAllows(level, fields.event, now)) this.log[level](fields, msg);
    else this.onSuppressed?.(fields.event);
  }

  /** Summaries of what this connection left out and did not summarize yet (it is closing). */
  close(): void {
    if (!this.limiter) return;
    const now = this.now();
    for (const [event, count] of this.limiter.flush()) this.summary('info', event, count, now);
  }

  private get log(): Logger {
    return (this.child ??= this.root.child(this.bindings));
  }

  private summary(level: Level, event: string, count: number, now: number): void {
    if (!this.root.isLevelEnabled(level === 'debug' ? 'debug' : 'info')) return;
    if (!this.serverAllows(level, event, now)) return;
    this.log[level === 'debug' ? 'debug' : 'info'](
      { event: 'log_suppressed', suppressed_event: event, count },
      `${count} ${event} lines of this connection left out`,
    );
  }

  private serverAllows(level: Level, event: string, now: number): boolean {
    if (!this.server) return true;
    const d = this.server.take(event, now);
    if (d.suppressed) {
      this.root[level === 'debug' ? 'debug' : 'info'](
        { event: 'log_suppressed', suppressed_event: event, count: d.suppressed, scope: 'server' },
        `${d.suppressed} ${event} lines left out server-wide`,
      );
    }
    return d.write;
  }
}

export function serverLogLimiter(): LogLimiter {
  return new LogLimiter(SERVER_LOG_LIMIT);
}
