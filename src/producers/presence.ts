import type { Presence } from '../publish/presence.js';
import type { PresenceCorrections } from '../plugin/producer.js';
import type { Producer } from './types.js';

export type { PresenceCorrections };

/** A producer that publishes a vehicle's presence (the mqtt producer). */
export interface PresenceSink {
  publishPresence(vin: string, p: Presence): Promise<void>;
}

function isPresenceSink(p: Producer): p is Producer & PresenceSink {
  return typeof (p as Partial<PresenceSink>).publishPresence === 'function';
}

/**
 * Publishes presence through every producer connectivity records go to that knows how; resolves
 * once each has it. Presence follows connectivity: a server that publishes no connectivity
 * publishes no presence.
 */
export function presencePublisher(producers: readonly Producer[] | undefined): ((vin: string, p: Presence) => Promise<void>) | undefined {
  const sinks = (producers ?? []).filter(isPresenceSink);
  if (sinks.length === 0) return undefined;
  return (vin, p) => Promise.all(sinks.map((s) => s.publishPresence(vin, p))).then(() => undefined);
}
