import type { VehicleRecord } from '../../record/types.js';
import type { BatchSender } from '../batches.js';
import { InvalidRecord, type Producer } from '../types.js';
import { DispatchError } from './errors.js';
import type { InFlightRecords } from './in-flight.js';
import type { DispatchTally, TalliedProducer } from './tally.js';

/** A link to a server that takes batches of records: Kafka's cluster, Kinesis's API. */
export interface BatchLink {
  readonly up: boolean;
  /** Whether the server has answered at least once since start. */
  answered(): boolean;
  start(): void;
  close(): void | Promise<void>;
}

export interface BatchedParts<Q extends { type: string }, L extends BatchLink> {
  name: string;
  /** The producer's kind in messages: "kafka", "kinesis". */
  kind: string;
  /** What the message says while the server cannot be reached: "the cluster", "the API". */
  server: string;
  tally: DispatchTally;
  link: L;
  inFlight: InFlightRecords;
  batches: BatchSender<Q>;
  /** The message for a record; throws when the record cannot be encoded. */
  encode(record: VehicleRecord): Q;
  /** Why the server would refuse this message whatever is retried, if it would. */
  tooLarge(q: Q): string | undefined;
  /** How long close() waits for records in flight. */
  drainMs: number;
}

/**
 * A producer that sends records in batches through `link`, each held by `inFlight` until its batch
 * is answered: the shape Tesla's Kafka and Kinesis dispatchers share here. Before the server first
 * answers, and while it is down with a request already trying it, records are refused at once:
 * nothing is held, and the vehicle resends later.
 */
export function batchedProducer<Q extends { type: string }, L extends BatchLink>(p: BatchedParts<Q, L>): Producer & TalliedProducer & { link: L } {
  const { tally, link, inFlight, batches } = p;
  const refuse = (err: DispatchError | InvalidRecord) => {
    tally.recordFailed(err instanceof DispatchError ? err.code : 'record_invalid');
    return Promise.reject(err);
  };
  return {
    name: p.name,
    tally,
    link,
    connected: () => link.up,
    // Every record is answered by its deadline (InFlightRecords): no guard timer is needed.
    selfTimed: true,
    produce(record: VehicleRecord) {
      if (!link.answered() || (!link.up && tally.inFlight > 0)) {
        return refuse(new DispatchError('broker_unavailable', `${p.kind}: ${p.server} is not reachable`));
      }
      let q: Q;
      try {
        q = p.encode(record);
      } catch (err) {
        return refuse(new InvalidRecord(`${p.kind}: the record cannot be encoded: ${(err as Error).message}`, { cause: err }));
      }
      const large = p.tooLarge(q);
      if (large) return refuse(new InvalidRecord(`${p.kind}: ${large}`));
      return inFlight
        .run(() => batches.offer(q))
        .catch((err: unknown) => {
          tally.recordFailed((err as DispatchError).code ?? 'publish_failed');
          throw err;
        });
    },
    start: () => link.start(),
    ready: () => link.up,
    async close() {
      batches.flush();
      const end = Date.now() + p.drainMs;
      while (tally.inFlight > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      batches.dropWaiting(new DispatchError('shutting_down', `${p.kind}: the server is shutting down`));
      inFlight.clear();
      await link.close();
    },
  };
}
