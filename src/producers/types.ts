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
}

export type ProducerFactory = (ctx: ProducerContext) => Producer | Promise<Producer>;
