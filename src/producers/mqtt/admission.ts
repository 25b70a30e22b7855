/** Bounds of how many publishes the producer takes on at once (see Admission). */
export interface AdmissionOptions {
  /** Deadline of a record's publishes (publish_timeout_ms). */
  timeoutMs: number;
  /** Always admitted, so a fresh or idle link takes work before it has a measured rate. */
  floor?: number;
  /** Never more: the packet-id window. */
  ceiling?: number;
  /** Share of the deadline the held work may take to drain at the measured rate. */
  share?: number;
  /** Room again once held publishes fall to this fraction of the limit (hysteresis). */
  resumeAt?: number;
}

// Time constant of the smoothed acknowledgement rate.
const RATE_TAU_MS = 1000;
// Below this many held publishes the acks measure demand, not the broker: no rate sample then.
const BUSY = 256;

/**
 * Admission: "no room" while the link holds (queued + awaiting PUBACK) more publishes than the
 * broker acknowledges within a share of the deadline, at its measured rate. Work taken beyond
 * that would only time out, after delaying every other vehicle's records queued behind it.
 */
export class Admission {
  /** Publishes acknowledged per second, smoothed over ~1 s of busy time. */
  rate = 0;
  limit: number;
  private room = true;
  private acks = 0;
  private lastTick = 0;
  private lastHeld = 0;
  private readonly listeners: (() => void)[] = [];
  private readonly floor: number;
  private readonly ceiling: number;
  private readonly share: number;
  private readonly resumeAt: number;

  constructor(private readonly o: AdmissionOptions) {
    this.floor = o.floor ?? 4096;
    this.ceiling = Math.max(this.floor, o.ceiling ?? 65_535);
    this.share = o.share ?? 0.5;
    this.resumeAt = o.resumeAt ?? 0.8;
    this.limit = this.floor;
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

  /** Called on each sweep: folds the acks since the last tick into the rate, then re-checks. */
  tick(now: number, held: number): void {
    const dt = now - this.lastTick;
    if (this.lastTick !== 0 && dt > 0 && this.lastHeld >= BUSY) {
      const a = 1 - Math.exp(-dt / RATE_TAU_MS);
      this.rate += a * ((this.acks * 1000) / dt - this.rate);
      const want = Math.floor((this.rate * this.o.timeoutMs * this.share) / 1000);
      this.limit = Math.min(this.ceiling, Math.max(this.floor, want));
    }
    this.acks = 0;
    this.lastTick = now;
    this.lastHeld = held;
    this.update(held);
  }

  /** Re-checks room against what the link holds now; listeners hear of each return to room once. */
  update(held: number): void {
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
