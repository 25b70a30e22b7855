import { ValuePublish, type Publish } from '../../publish/plan.js';
import { measurePublish, measureValuePublish } from './packets.js';

const NO_PUBS: readonly Publish[] = [];
const NO_LENS = new Uint32Array(0);
const NOOP = (): void => {};

/** Told when a batch settles, so it leaves every list at once (the link). */
export interface BatchOwner {
  released(b: Batch, err?: Error): void;
}

/**
 * The publishes of one record, settled together: all acknowledged, or failed. Once settled it
 * lets go of its publishes and its callback, so a batch still referenced (by a packet id whose
 * PUBACK never came) costs a few fields, not a record's worth of strings.
 *
 * Its answer and its work are two things. The answer (`done`) is due by the deadline; when the
 * deadline passes first, the answer is "not yet" (overdue()) but the publishes stay in flight at
 * the broker, so a PUBACK that comes late still completes them, and a resend of the same record
 * waits on them (answerAgain()) instead of publishing every field again.
 */
export class Batch {
  pubs: readonly Publish[];
  /** Per publish: UTF-8 bytes of its topic then of its payload, measured once by prepare(). */
  lens: Uint32Array = NO_LENS;
  /** The next publish to send. */
  next = 0;
  /** Publishes not yet acknowledged. */
  left: number;
  settled = false;
  owner: BatchOwner | null = null;
  /** When the link took it (ms): its acknowledgement time is measured from here. */
  takenAt = 0;
  /** Overdue batches whose work finished, answered or not, are told here (the producer forgets them). */
  onSettled?: (err?: Error) => void;
  // Intrusive links: the send queue and the deadline list remove a batch in O(1) when it settles.
  qPrev: Batch | null = null;
  qNext: Batch | null = null;
  queued = false;
  dPrev: Batch | null = null;
  dNext: Batch | null = null;
  timed = false;
  private done: (err?: Error) => void;

  constructor(
    pubs: readonly Publish[],
    done: (err?: Error) => void,
    public deadline: number,
  ) {
    this.pubs = pubs;
    this.done = done;
    this.left = pubs.length;
  }

  /**
   * Checks every publish against the encoder's limits and keeps their byte lengths for the
   * flush. Throws PacketError (naming the publish) when one can never be sent.
   */
  prepare(): void {
    const pubs = this.pubs;
    const lens = new Uint32Array(pubs.length * 2);
    for (let i = 0; i < pubs.length; i++) {
      const p = pubs[i];
      try {
        if (p instanceof ValuePublish) measureValuePublish(p.topic, p.json, p.qos, lens, i * 2);
        else measurePublish(p.topic, p.payload, p.qos, lens, i * 2);
      } catch (err) {
        const topic = typeof p.topic === 'string' ? JSON.stringify(p.topic.length > 60 ? `${p.topic.slice(0, 60)}…` : p.topic) : String(p.topic);
        (err as Error).message = `publish ${i + 1} of ${pubs.length} (topic ${topic}): ${(err as Error).message}`;
        throw err;
      }
    }
    this.lens = lens;
  }

  /** Publishes not yet handed to the socket. */
  unsent(): number {
    return this.next < this.pubs.length ? this.pubs.length - this.next : 0;
  }

  /** Whether someone waits for the answer (false once it went out as overdue). */
  answering(): boolean {
    return this.done !== NOOP;
  }

  fail(err: Error): void {
    if (!this.settled) this.settle(err);
  }

  /**
   * The deadline passed with some publishes written: answered with `err` now, while those go on.
   * A batch written whole lets go of its strings (only its count of acknowledgements matters
   * now); one written in part keeps them for the rest, which a resend sends.
   */
  overdue(err: Error): void {
    const done = this.done;
    this.done = NOOP;
    this.deadline = Infinity;
    if (this.next >= this.pubs.length) {
      this.pubs = NO_PUBS;
      this.lens = NO_LENS;
    }
    done(err);
  }

  /** A resend of the same record: answered when the publishes still in flight settle, or at `deadline`. */
  answerAgain(done: (err?: Error) => void, deadline: number): void {
    const before = this.done;
    this.done =
      before === NOOP
        ? done
        : (err?: Error) => {
            before(err);
            done(err);
          };
    // Already answering: its deadline stands (the deadline list is ordered by it).
    if (before === NOOP) this.deadline = deadline;
  }

  /** One publish acknowledged; the last one settles the batch (an empty batch settles at once). */
  ackOne(): void {
    if (!this.settled && --this.left <= 0) this.settle();
  }

  private settle(err?: Error): void {
    this.settled = true;
    const done = this.done;
    this.owner?.released(this, err);
    this.owner = null;
    this.done = NOOP;
    this.pubs = NO_PUBS;
    this.lens = NO_LENS;
    done(err);
    this.onSettled?.(err);
  }
}

/** Batches waiting to be written, oldest first, and how many publishes they still hold. */
export class SendQueue {
  head: Batch | null = null;
  private tail: Batch | null = null;
  /** Unsent publishes of every queued batch. */
  publishes = 0;

  push(b: Batch): void {
    b.queued = true;
    b.qPrev = this.tail;
    b.qNext = null;
    if (this.tail) this.tail.qNext = b;
    else this.head = b;
    this.tail = b;
    this.publishes += b.unsent();
  }

  /** Takes `b` out; its unsent publishes stop counting. */
  remove(b: Batch): void {
    if (!b.queued) return;
    b.queued = false;
    this.publishes -= b.unsent();
    if (b.qPrev) b.qPrev.qNext = b.qNext;
    else this.head = b.qNext;
    if (b.qNext) b.qNext.qPrev = b.qPrev;
    else this.tail = b.qPrev;
    b.qPrev = b.qNext = null;
  }

  /** Empties the queue, handing each batch to `each` (already out of the queue). */
  drain(each: (b: Batch) => void): void {
    while (this.head) {
      const b = this.head;
      this.remove(b);
      each(b);
    }
  }
}

/**
 * Unsettled batches by deadline, earliest first, so the sweep only ever looks at the head. The
 * deadline follows the broker's acknowledgement time, so a new one may come before the last:
 * it is placed from the tail, which is where nearly every deadline goes.
 */
export class DeadlineList {
  head: Batch | null = null;
  private tail: Batch | null = null;
  size = 0;

  push(b: Batch): void {
    b.timed = true;
    let after = this.tail;
    while (after && after.deadline > b.deadline) after = after.dPrev;
    b.dPrev = after;
    b.dNext = after ? after.dNext : this.head;
    if (after) after.dNext = b;
    else this.head = b;
    if (b.dNext) b.dNext.dPrev = b;
    else this.tail = b;
    this.size++;
  }

  remove(b: Batch): void {
    if (!b.timed) return;
    b.timed = false;
    this.size--;
    if (b.dPrev) b.dPrev.dNext = b.dNext;
    else this.head = b.dNext;
    if (b.dNext) b.dNext.dPrev = b.dPrev;
    else this.tail = b.dPrev;
    b.dPrev = b.dNext = null;
  }
}
