import type { Producer } from '../producers/types.js';
import type { VehicleRecord } from '../record/types.js';

export class DispatchTimeout extends Error {
  readonly code = 'dispatch_timeout';
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

  producersFor(recordType: string): Producer[] | undefined {
    return this.routes.get(recordType);
  }

  dispatch(record: VehicleRecord, producers: Producer[]): Promise<void> {
    const all = producers.length === 1 ? producers[0].produce(record) : Promise.all(producers.map((p) => p.produce(record)));
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new DispatchTimeout(`producers did not settle within ${this.deadlineMs} ms`)), this.deadlineMs);
      (all as Promise<unknown>).then(
        () => {
          clearTimeout(timer);
          resolve();
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }
}
