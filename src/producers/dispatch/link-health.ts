import type { Logger } from 'pino';
import type { DispatchTally } from './tally.js';

/** The log lines of a link's changes: event names and messages, per producer kind. */
export interface HealthLines {
  /** Logged at info when the server takes records again after being down. */
  available: { event: string; msg: string };
  /** Logged at warn when a request fails while the link was up. */
  unavailable: { event: string; msg: string };
  /** The failure in the operator's words; the error's message when absent. */
  describe?: (err: Error) => string;
}

/**
 * Whether a batching link's server takes records, as its requests tell: up after a success,
 * down after a failure. One log line per change, not per request: a server that stays down
 * must not flood the log. A return after a loss counts as a reconnect in the tally.
 */
export class LinkHealth {
  up = false;
  /** Times it went down after being up. */
  downs = 0;
  private answeredOnce = false;

  constructor(
    private readonly log: Logger,
    private readonly lines: HealthLines,
    private readonly tally?: DispatchTally,
  ) {}

  /** Whether the server answered once since start: before that, records are refused without trying. */
  answered(): boolean {
    return this.answeredOnce;
  }

  markUp(): void {
    this.answeredOnce = true;
    if (this.up) return;
    if (this.downs > 0) {
      this.log.info({ event: this.lines.available.event }, this.lines.available.msg);
      if (this.tally) this.tally.reconnects++;
    }
    this.up = true;
  }

  markDown(err: Error): void {
    if (!this.up) return;
    this.up = false;
    this.downs++;
    this.log.warn({ event: this.lines.unavailable.event, err: this.lines.describe?.(err) ?? err.message }, this.lines.unavailable.msg);
  }
}
