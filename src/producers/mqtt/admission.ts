/** Bounds of how many publishes the producer takes on at once (see Admission). */
export interface AdmissionOptions {
  /**
   * Queueing the broker may add to its acknowledgement time before it counts as congested (ms):
   * a share of publish_timeout_ms, so that records admitted are acknowledged within their deadline.
   */
  queueMs: number;
  /** The window a fresh link starts with. */
  initial?: number;
  /** Never fewer: a record of a few hundred fields still goes out one at a time. */
  floor?: number;
  /** Never more: the packet-id window. */
  ceiling?: number;
  /** Publishes added to the window per sweep tick while it is full and the broker keeps up. */
  step?: number;
  /** Room again once held publishes fall to this fraction of the limit (hysteresis). */
  resumeAt?: number;
}

// Time constant of the smoothed acknowledgement rate (the per-vehicle budget follows it).
const RATE_TAU_MS = 1000;
// Below this many held publishes the acks measure demand, not the broker: no rate sample then.
const BUSY = 256;

/** A vehicle's budget never falls below this many publishes: a fresh link has measured no rate yet. */
export const VEHICLE_BUDGET_FLOOR = 512;

/**
 * Publishes one vehicle may hold in flight: what the broker acknowledges in `targetMs` (its base
 * acknowledgement time, so a distant broker's pipe stays full, plus the queueing one vehicle may
 * cause). A vehicle behind a pipelining one on the shared broker connection then waits about
 * that long, whether the broker takes 300 or 30,000 publishes a second (a fixed count was 1.1 s
 * of waiting behind a 50-field burst when a loaded machine slowed mosquitto).
 */
export function vehicleBudget(ratePerSecond: number, targetMs: number, floor = VEHICLE_BUDGET_FLOOR): number {
  return Math.max(floor, Math.round((ratePerSecond * targetMs) / 1000));
}

/**
 * Admission: "no room" while the link holds (queued + awaiting PUBACK) `limit` publishes or
 * more. The limit is a congestion window (additive increase, multiplicative decrease), as TCP
 * keeps one: when a record takes longer than the broker's base acknowledgement time plus
 * `queueMs`, or times out, the window becomes half of what the link holds, and only records
 * taken after that can halve it again (they are the ones that saw the smaller window); it grows
 * by `step` per smoothed acknowledgement time while full without such a sign. Offered load then
 * meets what the broker takes, whatever its speed: a slow broker slows the vehicles (the server
 * stops reading them) instead of timing every record out.
 */
export class Admission {
  /** Publishes acknowledged per second, smoothed over ~1 s of busy time. */
  rate = 0;
  limit: number;
  /** Halvings so far (a metric). */
  decreases = 0;
  private room = true;
  private acks = 0;
  private lastTick = 0;
  private lastHeld = 0;
  private full = false;
  private congestedSinceTick = false;
  private lastDecrease = -Infinity;
  private lastIncrease = 0;
  private readonly listeners: (() => void)[] = [];
  private readonly floor: number;
  private readonly ceiling: number;
  private readonly step: number;
  private readonly resumeAt: number;

  constructor(private readonly o: AdmissionOptions) {
    this.floor = o.floor ?? 128;
    this.ceiling = Math.max(this.floor, o.ceiling ?? 65_535);
    this.step = o.step ?? 64;
    this.resumeAt = o.resumeAt ?? 0.8;
    this.limit = Math.min(this.ceiling, Math.max(this.floor, o.initial ?? 4096));
  }

  hasRoom(): boolean {
    return this.room;
  }

  onRoom(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** One publish acknowledged (hot path: a counter). */
  acked(): void {
    this.acks++;
  }

  /**
   * A record taken at `takenAt` was acknowledged after `ms`; `baseMs` is the broker's lowest
   * acknowledgement time lately (AckTime.base()); `held` what the link holds now.
   */
  sampled(ms: number, takenAt: number, baseMs: number, held: number, now: number): void {
    if (ms > baseMs + this.o.queueMs) this.congested(takenAt, held, now);
  }

  /** A sign of congestion from a record taken at `takenAt` (too slow, or past its deadline). */
  congested(takenAt: number, held: number, now: number): void {
    this.congestedSinceTick = true;
    // A record taken before the last decrease waited behind the larger window: no news.
    if (takenAt <= this.lastDecrease) return;
    this.lastDecrease = now;
    this.decreases++;
    this.limit = Math.max(this.floor, Math.floor(Math.min(this.limit, held) / 2));
  }

  /**
   * Called on each sweep: folds the acks since the last tick into the rate, grows the window once
   * per `srttMs` (the smoothed acknowledgement time) if it was full, re-checks room.
   */
  tick(now: number, held: number, srttMs = 0): void {
    const dt = now - this.lastTick;
    if (this.lastTick !== 0 && dt > 0 && this.lastHeld >= BUSY) {
      const a = 1 - Math.exp(-dt / RATE_TAU_MS);
      this.rate += a * ((this.acks * 1000) / dt - this.rate);
    }
    if (this.full && !this.congestedSinceTick && now - this.lastIncrease >= srttMs) {
      this.limit = Math.min(this.ceiling, this.limit + this.step);
      this.lastIncrease = now;
    }
    this.full = false;
    this.congestedSinceTick = false;
    this.acks = 0;
    this.lastTick = now;
    this.lastHeld = held;
    this.update(held);
  }

  /** Re-checks room against what the link holds now; listeners hear of each return to room once. */
  update(held: number): void {
    if (held >= this.limit * this.resumeAt) this.full = true;
    if (this.room) {
      if (held >= this.limit) this.room = false;
    } else if (held <= this.limit * this.resumeAt) {
      this.room = true;
      // Called from inside ack and sweep loops: a listener that sends right away (or throws) must
      // not run in the middle of them.
      queueMicrotask(this.notify);
    }
  }

  private readonly notify = (): void => {
    for (const l of this.listeners) l();
  };
}
