/**
 * Topic names of docs/protocol.md §5. Every topic level made from data (VIN, field, alert and error
 * names, the client id in the status topic) is built here, and only here, so the guarantees hold
 * for every publish: valid UTF-8, no level added, no wildcard, nothing a supported broker
 * (mosquitto, aedes, RabbitMQ, NATS) refuses, and a bounded length.
 */
import { refusedChars } from './refused-chars.js';

import { TopicLevelError } from '../errors.js';

/** docs/protocol.md §5.3: a level longer than this (UTF-8 bytes, after sanitising) is never published. */
export const MAX_LEVEL_BYTES = 256;

// `/ + #` would add a level or a wildcard; controls and noncharacters make brokers drop the
// connection (refused-chars.ts); NATS closes it on `.` and space; a lone surrogate is not UTF-8.
const UNSAFE = refusedChars('/+#. ', [String.raw`[\ud800-\udbff](?![\udc00-\udfff])`, String.raw`(?<![\ud800-\udbff])[\udc00-\udfff]`], 'g');

export { TopicLevelError };

/** Every unsafe character becomes `_`; the result may still be too long (see topicLevel). */
export function sanitizeLevel(name: string): string {
  return name.replace(UNSAFE, '_');
}

/** Shown in an error: enough of a vehicle-chosen name to recognise it, never all of it. */
function preview(s: string): string {
  return s.length <= 40 ? s : `${s.slice(0, 40)}…`;
}

/** A sanitised level, or TopicLevelError naming the limit when it is longer than MAX_LEVEL_BYTES. */
export function topicLevel(name: string, what: string): string {
  const level = sanitizeLevel(name);
  // Each UTF-16 unit is at most 3 UTF-8 bytes: short names skip the byte count.
  if (level.length * 3 > MAX_LEVEL_BYTES) {
    const bytes = Buffer.byteLength(level, 'utf8');
    if (bytes > MAX_LEVEL_BYTES) {
      throw new TopicLevelError(`${what} "${preview(level)}" is ${bytes} bytes as a topic level; the limit is ${MAX_LEVEL_BYTES}`);
    }
  }
  return level;
}

/** True when a certificate name is usable as a VIN level as it stands (docs/protocol.md §1.3): no sanitising needed. */
const VIN_LEVEL = /^[A-Za-z0-9_-]+$/;

export type VinResult = { ok: true; vin: string } | { ok: false; reason: string };

/**
 * The VIN a vehicle is known by: its certificate's common name with every `.` as `-` (docs/protocol.md §1.3). A name
 * that would need any other change to become a topic level is refused, so two certificates can
 * never share a VIN's topics through sanitising.
 */
export function vinFromCommonName(cn: string): VinResult {
  const vin = cn.replace(/\./g, '-');
  if (vin.length === 0) return { ok: false, reason: 'certificate common name is empty' };
  if (!VIN_LEVEL.test(vin)) {
    return { ok: false, reason: 'certificate common name holds a character outside [A-Za-z0-9_-] (after "." → "-")' };
  }
  if (vin.length > MAX_LEVEL_BYTES) return { ok: false, reason: `certificate common name is longer than ${MAX_LEVEL_BYTES} bytes` };
  return { ok: true, vin };
}

/**
 * Topics of one topic_base, with the two things every frame asks for cached: a vehicle's prefix
 * and `v/<Field>`. Caches are bounded by what they key (connected VINs, a few hundred field
 * names) and capped against a vehicle that invents names.
 */
export class TopicNames {
  private readonly prefixes = new Map<string, string>();
  private readonly fields = new Map<string, string>();

  constructor(readonly base: string) {}

  /** `<base>/<VIN>/`. */
  vehiclePrefix(vin: string): string {
    let p = this.prefixes.get(vin);
    if (p === undefined) {
      p = `${this.base}/${topicLevel(vin, 'VIN')}/`;
      if (this.prefixes.size >= 100_000) this.prefixes.clear();
      this.prefixes.set(vin, p);
    }
    return p;
  }

  /** `v/<Field>`; the name is sanitised once per distinct field. */
  field(prefix: string, field: string): string {
    let t = this.fields.get(field);
    if (t === undefined) {
      t = `v/${topicLevel(field, 'field name')}`;
      if (this.fields.size < 10_000) this.fields.set(field, t);
    }
    return prefix + t;
  }

  alertCurrent(prefix: string, name: string): string {
    return `${prefix}alerts/${topicLevel(name, 'alert name')}/current`;
  }

  alertHistory(prefix: string, name: string): string {
    return `${prefix}alerts/${topicLevel(name, 'alert name')}/history`;
  }

  error(prefix: string, name: string): string {
    return `${prefix}errors/${topicLevel(name, 'error name')}`;
  }

  connectivity(prefix: string): string {
    return `${prefix}connectivity`;
  }

  /** `<base>/<VIN>/presence`: the vehicle online while any connection of it is open (retained). */
  presence(prefix: string): string {
    return `${prefix}presence`;
  }

  /** The filter every vehicle's presence topic matches (the server reads them back, see presence-watch). */
  presenceFilter(): string {
    return `${this.base}/+/presence`;
  }

  /**
   * `<base>/<VIN>/derived/<name>`: what a plugin derives for a vehicle. The name is one level,
   * sanitised like every other (so `/`, `+`, `#`, `.` and controls cannot leave the subtree);
   * an empty or over-long name is refused.
   */
  derived(vin: string, name: string): string {
    // Plugins are JavaScript: the types are checked here, not trusted.
    if (typeof vin !== 'string' || vin.length === 0) throw new TopicLevelError('derived record VIN must be a non-empty string');
    if (typeof name !== 'string' || name.length === 0) throw new TopicLevelError('derived record name must be a non-empty string');
    return `${this.vehiclePrefix(vin)}derived/${topicLevel(name, 'derived record name')}`;
  }
}

/**
 * The server's status topic (docs/protocol.md §5.4): outside topic_base, so every message under it stays a
 * vehicle's. `configured` is mqtt.status_topic as given ("" disables it); absent, the default
 * `fleet-telemetry/<client id>/status` with the client id made a safe level.
 */
export function statusTopic(configured: string | undefined, clientId: string): string | undefined {
  if (configured !== undefined) return configured === '' ? undefined : configured;
  return `fleet-telemetry/${topicLevel(clientId, 'client id')}/status`;
}

// Home Assistant takes only these in a discovery topic's node and object ids (and unique ids).
const DISCOVERY_UNSAFE = /[^A-Za-z0-9_-]/g;

/**
 * A level of a Home Assistant discovery topic (`<prefix>/<component>/<node_id>/<object_id>/config`):
 * every character outside [A-Za-z0-9_-] becomes `_`, then the limits of topicLevel apply.
 */
export function discoveryLevel(name: string, what: string): string {
  return topicLevel(name.replace(DISCOVERY_UNSAFE, '_'), what);
}
