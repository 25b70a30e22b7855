// The producer interfaces are the public plugin API (src/plugin/); re-exported for the server's own code.
export type { Producer, ProducerContext, ProducerFactory } from '../plugin/producer.js';

// A record that can never be produced (errors.ts); re-exported where producers look for it.
export { InvalidRecord, isPermanent } from '../errors.js';

/**
 * A transient rejection whose work goes on: the record was not taken in time, but its publishes
 * are still in flight and `completion` resolves once they are all acknowledged (rejects if they
 * are lost). The vehicle got no answer; the server remembers the frame as acked once this
 * resolves, so a later resend is acked without publishing anything twice.
 */
interface StillInFlight {
  readonly completion: Promise<void>;
}

export function completionOf(err: unknown): Promise<void> | undefined {
  const c = typeof err === 'object' && err !== null ? (err as Partial<StillInFlight>).completion : undefined;
  return c instanceof Promise ? c : undefined;
}
