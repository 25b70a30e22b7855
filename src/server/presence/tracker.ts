import type { Presence } from '../../publish/presence.js';
import { PresenceBook } from './book.js';
import { PresenceOutbox } from './outbox.js';
import type { CloseOutcome, PresencePort } from './port.js';

export interface PresenceHost {
  /** Publishes a VIN's presence; resolves once every producer has it. */
  publish(vin: string, p: Presence): Promise<void>;
  /** Closes connection `key` unless it handled a frame at or after `since` (ms). */
  closeIfIdle(key: string, since: number): Promise<CloseOutcome>;
}

export interface TrackerOptions {
  /** presence.close_older_after_ms: 0 keeps every connection. */
  graceMs: number;
  onPublishFailed?: (vin: string, err: unknown) => void;
  now?: () => number;
}

/**
 * Presence for one server: counts each VIN's connections (in one process, or in the primary over
 * every worker), publishes each change through the outbox, and closes a VIN's older connections
 * once a newer one has handled a frame and the grace period has passed. An older connection that
 * handled a frame during the grace period is alive: it is kept and looked at again a period later.
 */
export class PresenceTracker implements PresencePort {
  private readonly book = new PresenceBook();
  private readonly outbox: PresenceOutbox;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** VINs marked online by nobody serving them (see PresenceWatch) → when to publish them offline. */
  private readonly suspects = new Map<string, number>();
  private suspectTimer?: NodeJS.Timeout;
  private readonly now: () => number;

  constructor(
    private readonly host: PresenceHost,
    private readonly o: TrackerOptions,
  ) {
    this.now = o.now ?? Date.now;
    this.outbox = new PresenceOutbox((vin, p) => host.publish(vin, p), o.onPublishFailed);
  }

  opened(key: string, vin: string): Promise<void> {
    const change = this.book.opened(key, vin, this.now());
    return change ? this.outbox.set(change.vin, change.presence) : Promise.resolve();
  }

  active(key: string): void {
    if (this.o.graceMs <= 0) return;
    for (const older of this.book.active(key, this.now())) {
      if (!this.timers.has(older.key)) this.arm(older.key);
    }
  }

  closed(key: string): void {
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
    const change = this.book.closed(key, this.now());
    if (change) void this.outbox.set(change.vin, change.presence);
  }

  /** Every connection of a worker that died: closed at once. */
  ownerGone(owner: string): void {
    for (const key of this.book.keysOf(owner)) this.closed(key);
  }

  /**
   * A retained `online` of `vin` that no connection here stands behind (a killed run's, or a dead
   * server's): published offline after `afterMs` unless the vehicle connects by then.
   */
  suspect(vin: string, afterMs: number): void {
    if (this.book.online(vin)) return;
    const at = this.now() + afterMs;
    const was = this.suspects.get(vin);
    if (was !== undefined && was <= at) return;
    this.suspects.set(vin, at);
    this.sweepAt(afterMs);
  }

  private sweepAt(ms: number): void {
    if (this.suspectTimer) {
      if (ms > 0) return;
      clearTimeout(this.suspectTimer);
    }
    this.suspectTimer = setTimeout(() => this.sweep(), ms);
    this.suspectTimer.unref();
  }

  private sweep(): void {
    this.suspectTimer = undefined;
    const now = this.now();
    let next = Infinity;
    for (const [vin, at] of this.suspects) {
      if (at > now) {
        next = Math.min(next, at);
        continue;
      }
      this.suspects.delete(vin);
      if (!this.book.online(vin)) void this.outbox.set(vin, { online: false, connections: 0, since: new Date(now).toISOString() });
    }
    if (next !== Infinity) this.sweepAt(Math.max(next - now, 10));
  }

  get vehicles(): number {
    return this.book.vehicles;
  }

  get connections(): number {
    return this.book.connections;
  }

  private arm(key: string): void {
    const since = this.now();
    const timer = setTimeout(() => {
      this.timers.delete(key);
      // The newer connection may have gone meanwhile: then this one is the vehicle's only one.
      if (!this.book.has(key) || !this.book.hasNewerActive(key)) return;
      this.host.closeIfIdle(key, since).then(
        (outcome) => {
          if (outcome === 'active' && this.book.has(key) && !this.timers.has(key)) this.arm(key);
        },
        () => {},
      );
    }, this.o.graceMs);
    timer.unref();
    this.timers.set(key, timer);
  }

  /** Waits (at most `ms`) for the presences not yet published. */
  flush(ms: number): Promise<void> {
    return this.outbox.flush(ms);
  }

  stop(): void {
    clearTimeout(this.suspectTimer);
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.outbox.stop();
  }
}
