import { presenceVin, readPresence } from '../../publish/presence.js';
import type { TopicNames } from '../../publish/topics.js';
import type { PresenceCorrections } from '../presence.js';

export interface PresenceWatchOptions {
  names: TopicNames;
  /** This server's ids as presence names them (its own and, with workers, every worker's). */
  own: ReadonlySet<string>;
  /** presence.stale_after_ms: how long a vehicle marked online by this server's previous run may stay silent. */
  staleAfterMs: number;
  corrections: () => PresenceCorrections | undefined;
}

/** Status topics of servers with the default mqtt.status_topic (fleet-telemetry/<client id>/status). */
const DEFAULT_STATUS_FILTER = 'fleet-telemetry/+/status';

/**
 * Reads every vehicle's presence and the servers' status back from the broker, to correct an
 * `online` nobody stands behind: one this server left retained in a run that was killed (the
 * vehicle gets `presence.stale_after_ms` to come back), and one of another server whose status
 * went `offline` (its Last Will, or its clean stop). The tracker decides, so a correction never
 * overtakes this server's own publish of the vehicle coming online.
 */
export class PresenceWatch {
  /** VIN → the other server whose `online` is the vehicle's latest presence. */
  private readonly others = new Map<string, string>();
  private readonly offline = new Set<string>();

  constructor(private readonly o: PresenceWatchOptions) {}

  // QoS 0: both are retained states, read again whole at each subscribe. At QoS 1 NATS keeps a
  // JetStream consumer per subscription, and after a broker node was killed the servers' CONNECTs
  // were refused until JetStream recovered: acks resumed 33-56 s after the kill, 1,555 of 1,620
  // frames acked in the failover run; at QoS 0, 0.6-0.7 s and 1,620 of 1,620.
  filters(): { topic: string; qos: 0 | 1 }[] {
    return [
      { topic: this.o.names.presenceFilter(), qos: 0 },
      { topic: DEFAULT_STATUS_FILTER, qos: 0 },
    ];
  }

  /** True when the message was one of the watch's. */
  onMessage(topic: string, payload: Buffer, retain: boolean): boolean {
    const vin = presenceVin(this.o.names, topic);
    if (vin !== undefined) {
      this.presence(vin, payload.toString('utf8'), retain);
      return true;
    }
    if (/^fleet-telemetry\/[^/]+\/status$/.test(topic)) {
      this.status(topic, payload.toString('utf8'));
      return true;
    }
    return false;
  }

  private presence(vin: string, text: string, retain: boolean): void {
    const p = readPresence(text);
    if (!p || !p.online || p.server === undefined) {
      this.others.delete(vin);
      return;
    }
    if (this.o.own.has(p.server)) {
      this.others.delete(vin);
      // Retained at subscribe time: maybe this server's previous run's. The tracker knows.
      if (retain) this.o.corrections()?.suspect(vin, this.o.staleAfterMs);
      return;
    }
    this.others.set(vin, p.server);
    if (this.offline.has(p.server)) this.o.corrections()?.suspect(vin, 0);
  }

  private status(topic: string, text: string): void {
    if (this.o.own.has(topic)) return;
    if (text !== 'offline') {
      this.offline.delete(topic);
      return;
    }
    this.offline.add(topic);
    const c = this.o.corrections();
    for (const [vin, server] of this.others) {
      if (server !== topic) continue;
      this.others.delete(vin);
      c?.suspect(vin, 0);
    }
  }
}
