import type { Producer } from '../producers/types.js';

/** While sessions wait for room, the gate looks again this often even if no producer says so. */
const RETRY_MS = 250;

/** What the gate needs of a session: to be told it may read again. */
export interface Parkable {
  wake(): void;
}

export interface GateOptions {
  /** Server-wide bound on records in flight. */
  max: number;
  /** Bound per connection (`max_records_in_flight_per_vehicle`). */
  perVehicle?: number;
  /** Producers asked for room (admission) before each record; those with onRoom wake the gate. */
  producers?: Producer[];
}

/**
 * Admission of records, shared by every session of the server. A record is admitted while the
 * server holds fewer than `max` in flight and every producer has room. Otherwise the session
 * stops reading from its vehicle (TCP pushes back on the car) and parks here; it is woken when
 * room returns, in the order sessions parked (FIFO): a session that parks again goes to the back,
 * and while any session waits, others queue behind it instead of taking the room first. So a
 * vehicle that pipelines as fast as it can is slowed but cannot starve the others.
 *
 * Each session also holds at most `perVehicle` records in flight itself (see VehicleSession).
 */
export class InflightGate {
  count = 0;
  readonly max: number;
  readonly perVehicle: number;
  private readonly waiting = new Set<Parkable>();
  private readonly gated: Producer[];
  private readonly budgeted: Producer[];
  /** The session being woken: it may pass the queue it was at the head of. */
  private waking?: Parkable;
  private wakeScheduled = false;
  private retry?: NodeJS.Timeout;

  constructor(opts: GateOptions | number) {
    const o = typeof opts === 'number' ? { max: opts } : opts;
    this.max = o.max;
    this.perVehicle = o.perVehicle ?? Infinity;
    this.gated = (o.producers ?? []).filter((p) => typeof p.hasRoom === 'function');
    this.budgeted = (o.producers ?? []).filter((p) => typeof p.vehicleBudget === 'function');
    for (const p of o.producers ?? []) p.onRoom?.(() => this.wakeSome());
  }

  /** Room for one more record now (server-wide count and every producer). */
  hasRoom(): boolean {
    if (this.count >= this.max) return false;
    for (const p of this.gated) if (!p.hasRoom!()) return false;
    return true;
  }

  /** Fields one vehicle may have in flight: the smallest of the producers' budgets. */
  vehicleBudget(): number {
    let b = Infinity;
    for (const p of this.budgeted) b = Math.min(b, p.vehicleBudget!());
    return b;
  }

  /** Whether `s` may start a record now; when false, it must park. */
  canAdmit = (s?: Parkable): boolean => {
    if (!this.hasRoom()) return false;
    if (!s || !this.waiting.size || this.waking === s) return true;
    // The head of the queue goes first; everyone else queues behind the sessions waiting.
    if (this.first() === s) {
      this.waiting.delete(s);
      return true;
    }
    return false;
  };

  park(s: Parkable): void {
    // A woken session left the queue: parking again, it goes to the back. One still waiting
    // keeps its place.
    this.waiting.add(s);
    // Liveness whatever the producers do (hasRoom without onRoom, a missed call): look again
    // now and then while anyone waits.
    this.armRetry();
    // Parked behind others while there is room: make sure someone wakes the queue.
    if (!this.wakeScheduled && this.hasRoom()) {
      this.wakeScheduled = true;
      setImmediate(() => {
        this.wakeScheduled = false;
        this.wakeSome();
      });
    }
  }

  private armRetry(): void {
    this.retry ??= setTimeout(() => {
      this.retry = undefined;
      this.wakeSome();
      if (this.waiting.size) this.armRetry();
    }, RETRY_MS).unref();
  }

  forget(s: Parkable): void {
    this.waiting.delete(s);
  }

  get parked(): number {
    return this.waiting.size;
  }

  started(): void {
    this.count++;
  }

  finished(): void {
    this.count--;
    // Wake with some headroom so a full gate does not flap once per record.
    if (this.waiting.size && this.count <= this.max * 0.9) this.wakeSome();
  }

  private first(): Parkable | undefined {
    return this.waiting.values().next().value;
  }

  /** Wakes parked sessions in FIFO order while there is room. */
  wakeSome(): void {
    if (this.waking) return;
    while (this.waiting.size && this.hasRoom()) {
      const s = this.first()!;
      this.waiting.delete(s);
      this.waking = s;
      try {
        s.wake();
      } finally {
        this.waking = undefined;
      }
    }
  }
}
