import type { Socket } from 'node:net';
import { DispatchError, InvalidRecord } from '../../errors.js';
import { AckTime } from './ack-time.js';
import { Admission, vehicleBudget, type AdmissionOptions } from './admission.js';
import { type Batch, DeadlineList, SendQueue, type BatchOwner } from './batch.js';
import { IdWindow } from './ids.js';
import { encodePubrel, publishSize, writePublish, writeValuePublish } from './packets.js';
import { ValuePublish, type Publish } from '../../publish/plan.js';

/** The MQTT link's transient refusals; a publish_timeout may carry its `completion` (StillInFlight). */
export class LinkError extends DispatchError {
  declare readonly code: 'broker_unavailable' | 'connection_lost' | 'publish_timeout' | 'shutting_down';
  constructor(code: LinkError['code'], message: string, opts: { cause?: unknown; completion?: Promise<void> } = {}) {
    super(code, message, opts);
  }
}

export interface OutboxOptions {
  /** Bounds of a record's deadline, which follows the broker's acknowledgement time in between. */
  publishTimeoutMs: number;
  publishTimeoutMaxMs: number;
  qos2Window: number;
  admission?: Omit<AdmissionOptions, 'queueMs'>;
  /** A record (not an internal message) failed here: the link counts them per outage. */
  onRecordFailed: () => void;
}

// Share of publish_timeout_ms that queueing may add to the broker's acknowledgement time before
// admission shrinks: records admitted then finish well within their deadline.
const QUEUE_SHARE = 0.5;
// Share of publish_timeout_ms one vehicle's publishes may queue at the broker (see vehicleBudget):
// 100 ms by default. At a tenth, a loaded machine's mosquitto (14,000 acks/s) let one vehicle hold
// 3,500 fields, and a vehicle behind it waited p99 846 ms.
const VEHICLE_SHARE = 0.04;

/**
 * The publish path of one connection: batches taken (validated and measured), written out in
 * one buffer per event-loop turn, settled by PUBACK/PUBCOMP, or by the loss of the connection.
 * A deadline that passes answers the record (not yet: the vehicle resends) but leaves its
 * publishes in flight, so a late PUBACK still completes them. It holds only unsettled work: a
 * batch leaves the queue and the deadline list the moment it settles.
 */
export class Outbox implements BatchOwner {
  readonly ids = new IdWindow<Batch>();
  readonly queue = new SendQueue();
  readonly deadlines = new DeadlineList();
  readonly admission: Admission;
  readonly ackTime: AckTime;
  /** Records whose answer went out at their deadline while their publishes went on. */
  overdue = 0;
  private flushScheduled = false;
  private waitingDrain = false;
  private socket?: Socket;

  constructor(private readonly o: OutboxOptions) {
    this.admission = new Admission({ ...o.admission, queueMs: o.publishTimeoutMs * QUEUE_SHARE });
    this.ackTime = new AckTime({ minMs: o.publishTimeoutMs, maxMs: Math.max(o.publishTimeoutMs, o.publishTimeoutMaxMs) });
  }

  /** Publishes one vehicle may hold in flight now: the broker's base time plus its share of queueing. */
  vehicleBudget(): number {
    const base = this.ackTime.base();
    return vehicleBudget(this.admission.rate, (Number.isFinite(base) ? base : 0) + this.o.publishTimeoutMs * VEHICLE_SHARE);
  }

  /** Publishes held: queued, or written and awaiting their acknowledgement. */
  held(): number {
    return this.queue.publishes + this.ids.inUse;
  }

  /**
   * Checks every publish of `b` and measures them. False when `b` settled here: failed with
   * InvalidRecord (nothing of it is written), or resolved because it has nothing to publish.
   */
  validate(b: Batch): boolean {
    try {
      b.prepare();
      if (b.left > 0) return true;
      b.ackOne(); // nothing to publish: taken at once
      return false;
    } catch (err) {
      b.fail(err instanceof InvalidRecord ? err : new InvalidRecord((err as Error).message, { cause: err }));
      return false;
    }
  }

  take(b: Batch): void {
    b.owner = this;
    b.takenAt = Date.now();
    this.queue.push(b);
    if (b.deadline !== Infinity) this.deadlines.push(b);
    this.admission.update(this.held());
    this.scheduleFlush();
  }

  /** BatchOwner: a settled batch (acked or failed) leaves every list now. */
  released(b: Batch, err?: Error): void {
    this.queue.remove(b);
    this.deadlines.remove(b);
    if (!err && b.takenAt !== 0) {
      // Every record's acknowledgement time, late ones included: one clock read per record.
      const now = Date.now();
      const ms = now - b.takenAt;
      const t = this.ackTime;
      t.sample(ms, now);
      this.admission.sampled(ms, b.takenAt, t.base(), this.held(), now);
    }
    this.admission.update(this.held());
  }

  fail(b: Batch, err: Error): void {
    if (!b.settled && b.answering() && b.deadline !== Infinity) this.o.onRecordFailed();
    b.fail(err);
  }

  /** The deadline a record taken now gets (ms). */
  deadlineMs(): number {
    return this.ackTime.deadlineMs;
  }

  /**
   * A resend of a record whose publishes are still in flight (`b` answered overdue): answered
   * once they are all acknowledged, or "not yet" again at `deadline`.
   */
  answerAgain(b: Batch, done: (err?: Error) => void, deadline: number): void {
    b.answerAgain(done, deadline);
    if (!b.timed) this.deadlines.push(b);
    if (b.unsent() > 0 && !b.queued) {
      this.queue.push(b);
      this.scheduleFlush();
    }
    this.admission.update(this.held());
  }

  /** Answers what is past its deadline ("not yet"), then updates admission (every sweep tick). */
  sweep(now: number): void {
    let b = this.deadlines.head;
    if (b && b.deadline <= now) {
      const err = new LinkError('publish_timeout', `broker did not acknowledge within ${this.ackTime.deadlineMs} ms`);
      this.ackTime.timedOut(now);
      for (; b && b.deadline <= now; b = this.deadlines.head) {
        this.admission.congested(b.takenAt, this.held(), now);
        if (b.next === 0) {
          // Nothing of it reached the broker: let it go (the resend publishes it, once).
          this.fail(b, err);
          continue;
        }
        // What was written stays in flight: the broker gets each publish once, however often
        // the vehicle resends. The rest leaves the queue until a resend asks for it.
        this.deadlines.remove(b);
        this.queue.remove(b);
        this.o.onRecordFailed();
        this.overdue++;
        b.overdue(err);
      }
    }
    this.admission.tick(now, this.held(), this.ackTime.srtt);
  }

  /** The connection is up: write to this socket from now on. */
  attach(socket: Socket): void {
    this.socket = socket;
    this.waitingDrain = false;
    if (this.queue.head) this.scheduleFlush();
  }

  /** The connection is gone: every unsettled batch fails with `err`, every packet id is free. */
  detach(err: Error): void {
    this.socket = undefined;
    this.waitingDrain = false;
    let b: Batch | null;
    while ((b = this.deadlines.head)) this.fail(b, err);
    this.queue.drain((q) => this.fail(q, err));
    this.ids.clear((owner) => this.fail(owner, err));
    this.admission.update(this.held());
  }

  /** PUBACK (QoS 1) or PUBCOMP (QoS 2) for `id`. */
  acked(id: number): void {
    const owner = this.ids.free(id);
    if (owner === undefined) return; // not ours: a stray or late ack
    this.admission.acked();
    if (owner) owner.ackOne();
    this.admission.update(this.held());
    if (this.queue.head) this.scheduleFlush();
  }

  /** PUBREC: release the id's QoS 2 publish, if it is still ours. */
  received(id: number): void {
    if (this.ids.has(id)) this.socket?.write(encodePubrel(id));
  }

  /** A write is about to happen this turn (a flush is scheduled) or waits for the socket to drain. */
  writePending(): boolean {
    return this.flushScheduled || this.waitingDrain;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.waitingDrain || !this.socket) return;
    this.flushScheduled = true;
    // One write per event-loop turn: records that arrive together share it.
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  // Scratch arrays reused by every flush: no object per publish on the hot path.
  private readonly fP: Publish[] = [];
  private readonly fB: Batch[] = [];
  private readonly fT: number[] = [];
  private readonly fL: number[] = [];
  private readonly fI: number[] = [];

  /** Last write, for the keep-alive: a ping is due only after a quiet half-interval. */
  lastWrite = 0;

  private flush(): void {
    const socket = this.socket;
    if (!socket || this.queue.head === null) return;
    const { fP, fB, fT, fL, fI, ids, queue } = this;
    const qos2Window = this.o.qos2Window;
    // Pass 1: packet ids and sizes (measured when the batch was taken). Pass 2: one buffer.
    let n = 0;
    let size = 0;
    let b = queue.head;
    outer: while (b) {
      const after = b.qNext;
      const { pubs, lens } = b;
      while (b.next < pubs.length) {
        const p = pubs[b.next];
        let id = 0;
        if (p.qos > 0) {
          if (p.qos === 2 && ids.qos2InUse >= qos2Window) break outer;
          id = ids.alloc(b, p.qos === 2);
          if (id === 0) break outer; // every packet id taken: the rest waits for acks
        }
        const k = b.next * 2;
        size += publishSize(lens[k], lens[k + 1], p.qos);
        fP[n] = p;
        fB[n] = b;
        fT[n] = lens[k];
        fL[n] = lens[k + 1];
        fI[n] = id;
        n++;
        b.next++;
        queue.publishes--;
      }
      queue.remove(b); // all of it written
      b = after;
    }
    if (n === 0) return;
    const buf = Buffer.allocUnsafe(size);
    let at = 0;
    let qos0: Batch[] | undefined;
    try {
      for (let i = 0; i < n; i++) {
        const p = fP[i];
        at =
          p instanceof ValuePublish
            ? writeValuePublish(buf, at, p.topic, fT[i], p.json, fL[i], p.qos, p.retain, fI[i])
            : writePublish(buf, at, p.topic, fT[i], p.payload, fL[i], p.qos, p.retain, fI[i]);
        if (p.qos === 0) (qos0 ??= []).push(fB[i]);
      }
    } catch (err) {
      // Only a publish changed after it was measured gets here. Nothing of this flush was written:
      // its ids are free again and its records fail (to be resent), instead of an exception
      // escaping setImmediate and taking the process down.
      for (let i = 0; i < n; i++) {
        if (fI[i]) ids.free(fI[i]);
        this.fail(fB[i], err as Error);
      }
      fP.length = 0;
      fB.length = 0;
      this.admission.update(this.held());
      return;
    }
    fP.length = 0;
    fB.length = 0;
    this.lastWrite = Date.now();
    const ok = socket.write(buf, (err) => {
      // QoS 0 is done once written to the broker connection.
      if (err || !qos0) return;
      for (const q of qos0) {
        this.admission.acked();
        q.ackOne();
      }
    });
    if (!ok) {
      this.waitingDrain = true;
      socket.once('drain', () => {
        if (this.socket !== socket) return;
        this.waitingDrain = false;
        this.scheduleFlush();
      });
    }
    if (queue.head) this.scheduleFlush();
  }
}
