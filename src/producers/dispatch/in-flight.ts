import { DispatchError } from './errors.js';
import type { DispatchTally } from './tally.js';

interface Entry {
  deadline: number;
  expire(): void;
}

/**
 * The records one producer holds, bounded: a record past `max` is refused at once (the vehicle
 * resends it later) instead of waiting, so a slow server holds only the records routed to it and
 * never stops the others' vehicles. Each record is answered by its deadline (`timeoutMs`); its
 * work still counts against the bound until it really ends, so memory stays bounded while a
 * server hangs. One timer serves every deadline: they come due in the order records came.
 */
export class InFlightRecords {
  private readonly entries = new Set<Entry>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly max: number,
    private readonly timeoutMs: number,
    private readonly tally: DispatchTally,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.tally.inFlight;
  }

  hasRoom(): boolean {
    return this.tally.inFlight < this.max;
  }

  /** Runs `work` for one record; resolves when it does, rejects on its failure, when full, or at the deadline. */
  run(work: () => Promise<void>): Promise<void> {
    if (!this.hasRoom()) return Promise.reject(new DispatchError('producer_full', `${this.max} records already in flight`));
    const tally = this.tally;
    tally.inFlight++;
    let done: Promise<void>;
    try {
      done = work();
    } catch (err) {
      done = Promise.reject(err);
    }
    const settledWork = done.finally(() => tally.inFlight--);
    return new Promise<void>((resolve, reject) => {
      let answered = false;
      const entry: Entry = {
        deadline: this.now() + this.timeoutMs,
        expire: () => {
          if (answered) return;
          answered = true;
          const completion = settledWork.then(() => undefined);
          completion.catch(() => {});
          reject(new DispatchError('publish_timeout', `not answered within ${this.timeoutMs} ms`, { completion }));
        },
      };
      this.entries.add(entry);
      this.arm();
      settledWork.then(
        () => {
          this.entries.delete(entry);
          if (answered) return;
          answered = true;
          resolve();
        },
        (err: unknown) => {
          this.entries.delete(entry);
          if (answered) return;
          answered = true;
          reject(err);
        },
      );
    });
  }

  /** Refuses every record still waiting (shutdown). */
  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const e of this.entries) e.expire();
    this.entries.clear();
  }

  private arm(): void {
    if (this.timer) return;
    const first = this.entries.values().next().value;
    if (!first) return;
    this.timer = setTimeout(() => this.sweep(), Math.max(0, first.deadline - this.now()));
    this.timer.unref();
  }

  private sweep(): void {
    this.timer = undefined;
    const now = this.now();
    for (const e of this.entries) {
      if (e.deadline > now) break;
      this.entries.delete(e);
      e.expire();
    }
    this.arm();
  }
}
