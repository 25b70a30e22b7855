import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import type { VehicleRecord } from '../record/types.js';

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

/**
 * What a plugin gets to publish what it derives (a trip, a score) under the vehicle's own
 * subtree, `<topic_base>/<VIN>/derived/<name>`, through the configured MQTT producer.
 */
export interface DerivedPublisher {
  /**
   * Publishes `value` as JSON. Resolves when the broker acknowledged it (the mqtt QoS of field
   * values); rejects as a record's publish does (not connected, timeout: transient), with a
   * permanent error for a name that is no valid level or a value that is no JSON, and with
   * code `derived_unavailable` when no mqtt producer runs.
   */
  publish(vin: string, name: string, value: unknown): Promise<void>;
}

/** What a producer that reads presence back asks of the server's tracker, which knows the connections. */
export interface PresenceCorrections {
  /**
   * `vin` is marked online by a server that is not (or no longer) serving it: published offline
   * after `afterMs` unless the vehicle is connected then.
   */
  suspect(vin: string, afterMs: number): void;
}

export interface ProducerContext {
  /** The producer's name in `records`. */
  name: string;
  /** The server's whole configuration, defaults filled in. */
  config: Config;
  logger: Logger;
  /** `producers.<name>.options` for a plugin; empty for built-in producers. */
  options: Record<string, unknown>;
  /**
   * Publishes JSON under `<topic_base>/<VIN>/derived/<name>` through the mqtt producer. The
   * server always gives it; absent only where a context is built by hand.
   */
  derived?: DerivedPublisher;
  /** For the built-in mqtt producer: the server's presence tracker, once it exists. */
  presenceCorrections?: () => PresenceCorrections | undefined;
}

/** What a producer module exports, as `default` or `createProducer`. */
export type ProducerFactory = (ctx: ProducerContext) => Producer | Promise<Producer>;
