import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import type { VehicleRecord } from '../record/types.js';
import type { DerivedPublisher } from './derived.js';
import type { PresenceCorrections } from './presence.js';

/**
 * A sink for decoded records. `produce` resolves once the record is taken (for MQTT: every
 * publish acknowledged by the broker) and rejects when it is not; a vehicle's frame is acked only
 * when every producer of its record type resolved.
 */
export interface Producer {
  readonly name: string;
  produce(record: VehicleRecord): Promise<void>;
  /**
   * True when produce() always settles within the configured publish timeout on its own; the
   * server then skips its own guard timer for this producer's records.
   */
  readonly selfTimed?: boolean;
  /** Whether records can be taken right now (readiness); absent means always. */
  ready?(): boolean;
  /**
   * Admission: false while the producer already holds as much work as it can settle within its
   * deadline. The server then stops reading from vehicles (TCP backpressure) until a listener
   * given to onRoom is called. Absent means always room.
   */
  hasRoom?(): boolean;
  onRoom?(listener: () => void): void;
  /**
   * Fairness: the fields one vehicle may have in flight here at once, so that others sharing
   * the producer's connection do not wait long behind it. Asked before each of that vehicle's
   * records; a vehicle with nothing in flight is always admitted. Absent means no bound.
   */
  vehicleBudget?(): number;
  /**
   * Begin talking to the outside (connect to a broker). Called once every listener is bound and
   * every check passed, so a start that fails has no effect outside the process; absent means the
   * producer needs no start.
   */
  start?(): void;
  /** Flush and let go of connections; called once at shutdown. */
  close(): Promise<void>;
}

export interface ProducerContext {
  /** The producer's name in `records`. */
  name: string;
  config: Config;
  logger: Logger;
  /** `producers.<name>.options` for a plugin; empty for built-in producers. */
  options: Record<string, unknown>;
  /**
   * Publishes JSON under `<topic_base>/<VIN>/derived/<name>` through the mqtt producer. The
   * server always gives it (createProducers); absent only where a test builds a context by hand.
   */
  derived?: DerivedPublisher;
  /** The server's presence tracker, once it exists: told of `online` presences nobody stands behind. */
  presenceCorrections?: () => PresenceCorrections | undefined;
}

export type ProducerFactory = (ctx: ProducerContext) => Producer | Promise<Producer>;

/**
 * A record that can never be produced, whatever is retried (a topic level over its limit, a
 * packet the broker could never take). The vehicle gets an error response naming `message`, so
 * it stops resending; every other rejection means "no response, resend".
 */
export class InvalidRecord extends Error {
  readonly code = 'record_invalid';
  readonly permanent = true;
}

export function isPermanent(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { permanent?: unknown }).permanent === true;
}

/**
 * A transient rejection whose work goes on: the record was not taken in time, but its publishes
 * are still in flight and `completion` resolves once they are all acknowledged (rejects if they
 * are lost). The vehicle got no answer; the server remembers the frame as acked once this
 * resolves, so a later resend is acked without publishing anything twice.
 */
export interface StillInFlight {
  readonly completion: Promise<void>;
}

export function completionOf(err: unknown): Promise<void> | undefined {
  const c = typeof err === 'object' && err !== null ? (err as Partial<StillInFlight>).completion : undefined;
  return c instanceof Promise ? c : undefined;
}
