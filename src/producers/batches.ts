export interface BatchSenderOptions<M> {
  /** Messages per send, and bytes per send (their `sizeOf`). */
  batchMax: number;
  batchBytes?: number;
  sizeOf?: (m: M) => number;
  /** How long a message waits for others to share its send, unless the batch fills first. */
  lingerMs: number;
  /** Sends in flight at once; messages wait beyond that. */
  maxSends: number;
  /**
   * Sends a batch. Resolves with one outcome per message (undefined: taken; an Error: refused),
   * or with nothing when all were taken; rejects when none was.
   */
  send(batch: readonly M[]): Promise<readonly (Error | undefined)[] | void>;
}

interface Entry<M> {
  message: M;
  settle(err?: Error): void;
}

/**
 * Messages on their way to a server that answers per request (a Kafka produce request, a Kinesis
 * PutRecords): batched by count, bytes and linger, a bounded number of requests at once. Each
 * message's promise settles with its own outcome in its request's answer. Bounds on records and
 * deadlines are the caller's (InFlightRecords).
 */
export class BatchSender<M> {
  private waiting: Entry<M>[] = [];
  private sending = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly o: BatchSenderOptions<M>) {}

  /** Messages waiting for a request. */
  queued(): number {
    return this.waiting.length;
  }

  offer(message: M): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ message, settle: (err) => (err ? reject(err) : resolve()) });
      this.schedule();
    });
  }

  /** Sends what waits now, linger or not (at close). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.waiting.length && this.sending < this.o.maxSends) this.sendOne();
  }

  /** Refuses every message still waiting for a request (not those being sent). */
  dropWaiting(err: Error): void {
    const w = this.waiting;
    this.waiting = [];
    for (const e of w) e.settle(err);
  }

  private schedule(): void {
    if (this.sending >= this.o.maxSends) return;
    if (this.waiting.length >= this.o.batchMax || this.o.lingerMs <= 0) {
      this.flush();
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, this.o.lingerMs);
  }

  private sendOne(): void {
    const batch = this.takeBatch();
    this.sending++;
    let sent: Promise<readonly (Error | undefined)[] | void>;
    try {
      sent = this.o.send(batch.map((e) => e.message));
    } catch (err) {
      sent = Promise.reject(err);
    }
    sent
      .then(
        (outcomes) => {
          for (let i = 0; i < batch.length; i++) batch[i].settle(outcomes ? outcomes[i] : undefined);
        },
        (err: unknown) => {
          const e = err instanceof Error ? err : new Error(String(err), { cause: err });
          for (const entry of batch) entry.settle(e);
        },
      )
      .finally(() => {
        this.sending--;
        if (this.waiting.length) this.schedule();
      });
  }

  /** The oldest waiting messages, up to batchMax and batchBytes (always at least one). */
  private takeBatch(): Entry<M>[] {
    const { batchMax, batchBytes, sizeOf } = this.o;
    let n = Math.min(batchMax, this.waiting.length);
    if (batchBytes !== undefined && sizeOf) {
      let bytes = 0;
      for (let i = 0; i < n; i++) {
        bytes += sizeOf(this.waiting[i].message);
        if (bytes > batchBytes && i > 0) {
          n = i;
          break;
        }
      }
    }
    return this.waiting.splice(0, n);
  }
}
