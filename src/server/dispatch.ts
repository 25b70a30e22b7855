import { completionOf, type Producer } from '../producers/types.js';
import type { VehicleRecord } from '../record/types.js';
import { DispatchError, DispatchTimeout } from '../errors.js';

/** A producer (a plugin above all) that throws instead of rejecting must not take the server down. */
function produceSafely(p: Producer, record: VehicleRecord): Promise<void> {
  try {
    return p.produce(record);
  } catch (err) {
    return Promise.reject(err);
  }
}

/**
 * A record several producers share, not taken in time by one of them whose work goes on: a
 * publish_timeout complete once every producer's work is (each resolved, or its own completion did).
 */
function sharedCompletion(err: unknown, each: Promise<void>[]): unknown {
  if (!completionOf(err)) return err;
  const all = Promise.all(each.map((r) => r.catch((e: unknown) => completionOf(e) ?? Promise.reject(e)))).then(() => undefined);
  all.catch(() => {});
  const code = err instanceof DispatchError ? err.code : 'publish_timeout';
  return new DispatchError(code, (err as Error).message, { cause: err, completion: all });
}

/**
 * Routes a record type to its producers (`records` in the config) and settles only when every
 * one of them has: resolved means the frame may be acked.
 */
export class Dispatcher {
  private readonly routes = new Map<string, Producer[]>();

  constructor(
    records: Record<string, string[] | undefined>,
    producers: Map<string, Producer>,
    /** A guard above the producers' own deadlines, so a plugin that never settles cannot hold a frame forever. */
    private readonly deadlineMs: number,
    /** Told which producer refused a record (metrics by producer); the caller still gets the error. */
    private readonly onRejected?: (producer: string, err: unknown) => void,
  ) {
    for (const [type, names] of Object.entries(records)) {
      if (!names) continue;
      this.routes.set(
        type,
        names.map((n) => producers.get(n)!),
      );
    }
    // Connectivity records (made on connect and disconnect) go wherever any record goes, unless
    // the config routes them itself.
    if (!this.routes.has('connectivity')) {
      const all = [...new Set([...this.routes.values()].flat())];
      if (all.length) this.routes.set('connectivity', all);
    }
  }

  /** Every producer some record type goes to, each once (admission asks them all for room). */
  allProducers(): Producer[] {
    return [...new Set([...this.routes.values()].flat())];
  }

  producersFor(recordType: string): Producer[] | undefined {
    return this.routes.get(recordType);
  }

  dispatch(record: VehicleRecord, producers: Producer[]): Promise<void> {
    const report = this.onRejected;
    if (producers.length === 1 && producers[0].selfTimed) {
      // The producer keeps its own deadline: a guard timer per record would cost more than the
      // rest of the dispatch.
      const only = producers[0];
      const r = produceSafely(only, record);
      if (!report) return r;
      return r.catch((err: unknown) => {
        report(only.name, err);
        throw err;
      });
    }
    // With several producers, only a wrapper per producer can tell which one refused; the single
    // producer (the usual case) needs none.
    let pending: Set<Producer> | undefined;
    let timedOut = false;
    let all: Promise<unknown>;
    if (producers.length === 1) all = produceSafely(producers[0], record);
    else {
      const each = producers.map((p) => produceSafely(p, record));
      all = Promise.all(
        each.map((r, i) => {
          if (!report) return r;
          const p = producers[i];
          pending ??= new Set(producers);
          return r.then(
            () => void pending!.delete(p),
            (err: unknown) => {
              if (pending!.delete(p) && !timedOut) report(p.name, err);
              throw err;
            },
          );
        }),
      ).catch((err: unknown) => {
        throw sharedCompletion(err, each);
      });
    }
    // Every producer keeps its own deadline (mqtt beside a plugin that settles at once, as
    // config.example.json routes V): no guard timer per record.
    if (producers.every((p) => p.selfTimed)) return all.then(() => undefined);
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        timedOut = true;
        const err = new DispatchTimeout(`producers did not settle within ${this.deadlineMs} ms`);
        if (report) for (const p of pending ?? producers) report(p.name, err);
        reject(err);
      }, this.deadlineMs);
      all.then(
        () => {
          clearTimeout(timer);
          resolve();
        },
        (err: unknown) => {
          clearTimeout(timer);
          if (report && producers.length === 1 && !timedOut) report(producers[0].name, err);
          reject(err);
        },
      );
    });
  }
}
