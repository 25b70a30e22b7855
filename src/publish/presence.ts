import type { Publish } from './plan.js';
import type { TopicNames } from './topics.js';

/**
 * A vehicle's presence: online while at least one connection of it is open, whatever the
 * connectivity records of each connection say. Published retained on `<T>/<VIN>/presence` on every
 * change, so a subscriber that starts later reads the truth, not the last connection's event.
 */
export interface Presence {
  online: boolean;
  /** Connections of the vehicle open now (0 when offline). */
  connections: number;
  /** When `online` last changed (RFC 3339, UTC, milliseconds). */
  since: string;
  /**
   * Who published it: the server's status topic (or its MQTT client id without one). A server
   * corrects an `online` left by a server whose status went `offline` (its Last Will), or by its own
   * previous run.
   */
  server?: string;
}

/** The payload text; key order carries no meaning (docs/protocol.md §6.4). */
export function presenceJson(p: Presence): string {
  const o: Record<string, unknown> = { online: p.online, connections: p.connections, since: p.since };
  if (p.server !== undefined) o.server = p.server;
  return JSON.stringify(o);
}

/** A presence read back from the broker; undefined for anything that is not one. */
export function readPresence(payload: string): Presence | undefined {
  let o: unknown;
  try {
    o = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (typeof o !== 'object' || o === null) return undefined;
  const { online, connections, since, server } = o as Record<string, unknown>;
  if (typeof online !== 'boolean' || typeof connections !== 'number' || typeof since !== 'string') return undefined;
  return { online, connections, since, ...(typeof server === 'string' && { server }) };
}

/**
 * The presence publish: always retained (its point is what a late subscriber reads) and at QoS 1
 * at least, so the server knows when the broker has it before it sends the next one of the VIN.
 */
export function presencePublish(names: TopicNames, vin: string, p: Presence, qos: 0 | 1 | 2): Publish {
  return { topic: names.presence(names.vehiclePrefix(vin)), payload: presenceJson(p), qos: qos === 0 ? 1 : qos, retain: true };
}

/** The VIN level of a presence topic of `names`, or undefined for another topic. */
export function presenceVin(names: TopicNames, topic: string): string | undefined {
  const head = `${names.base}/`;
  if (!topic.startsWith(head) || !topic.endsWith('/presence')) return undefined;
  const vin = topic.slice(head.length, -'/presence'.length);
  return vin.length > 0 && !vin.includes('/') ? vin : undefined;
}
