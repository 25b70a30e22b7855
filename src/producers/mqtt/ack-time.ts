/** Bounds of a record's deadline: publish_timeout_ms and publish_timeout_max_ms. */
export interface AckTimeOptions {
  minMs: number;
  maxMs: number;
}

// How long a minimum holds: the broker's base acknowledgement time may rise (a new route, a
// failover), so the oldest of two epochs is dropped every so often.
const BASE_EPOCH_MS = 10_000;

/**
 * The time the broker takes to acknowledge a record (taken → last PUBACK), smoothed as TCP
 * smooths its round-trip time (RFC 6298: srtt, rttvar, srtt + 4·rttvar), and the deadline that
 * follows from it within the configured bounds. A late acknowledgement is a true sample: nothing
 * is published twice, so there is no retransmission ambiguity to avoid.
 */
export class AckTime {
  srtt = 0;
  rttvar = 0;
  /** The deadline a record gets now (ms). */
  deadlineMs: number;
  /** Lowest acknowledgement time of this epoch and the last: the broker's own latency, without queueing. */
  private baseNow = Infinity;
  private basePrev = Infinity;
  private epochStart = 0;
  private backedOffAt = -Infinity;
  private sampled = false;

  constructor(private readonly o: AckTimeOptions) {
    this.deadlineMs = o.minMs;
  }

  /** The lowest acknowledgement time lately (Infinity before the first). */
  base(): number {
    return Math.min(this.baseNow, this.basePrev);
  }

  sample(ms: number, now: number): void {
    if (!this.sampled) {
      this.sampled = true;
      this.srtt = ms;
      this.rttvar = ms / 2;
      this.epochStart = now;
    } else {
      this.rttvar += 0.25 * (Math.abs(this.srtt - ms) - this.rttvar);
      this.srtt += 0.125 * (ms - this.srtt);
    }
    if (now - this.epochStart >= BASE_EPOCH_MS) {
      this.basePrev = this.baseNow;
      this.baseNow = Infinity;
      this.epochStart = now;
    }
    if (ms < this.baseNow) this.baseNow = ms;
    this.deadlineMs = this.clamp(this.srtt + 4 * this.rttvar);
  }

  /**
   * A deadline passed: the next ones are twice as long, as TCP backs its timer off, until samples
   * say otherwise. Records time out together, so once per deadline at most.
   */
  timedOut(now: number): void {
    if (now - this.backedOffAt < this.deadlineMs) return;
    this.backedOffAt = now;
    this.deadlineMs = this.clamp(this.deadlineMs * 2);
  }

  private clamp(ms: number): number {
    return Math.min(this.o.maxMs, Math.max(this.o.minMs, Math.ceil(ms)));
  }
}
