import type { VehicleTuning } from './options.js';
import type { EmulatorStats, FinalOutcome } from './stats.js';
import type { FrameStore, StoredFrame } from './store.js';

/** A frame between being made and its final outcome. */
export interface Pending {
  seq: number;
  txid: string;
  recordType: string;
  bytes: Uint8Array;
  /** Wall-clock ms when made; the TTL counts from here, across restarts. */
  createdAt: number;
  /** Transmissions so far. */
  attempts: number;
  /** performance.now() of the latest transmission. */
  sentAt: number;
}

/**
 * One vehicle's unacked frames: a FIFO of frames to send and a window of frames sent and not yet
 * answered. Decides when a frame goes out, comes back, expires or is dropped; counts each outcome
 * once and keeps the store in step. Knows nothing of sockets.
 */
export class Outbox {
  private queue: Pending[] = [];
  private readonly inflight = new Map<string, Pending>();
  private seq = 0;

  constructor(
    private readonly vin: string,
    private readonly t: Pick<VehicleTuning, 'window' | 'ttlMs' | 'maxRetries' | 'queueSize' | 'resendTimeoutMs'>,
    private readonly stats: EmulatorStats,
    private readonly store: FrameStore | undefined,
    private readonly onFinal: (p: Pending, outcome: FinalOutcome) => void,
  ) {}

  get outstanding(): number {
    return this.queue.length + this.inflight.size;
  }

  get inFlight(): number {
    return this.inflight.size;
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Frames a previous run left in the store go first. */
  restore(frames: StoredFrame[]): void {
    for (const f of frames) {
      this.stats.restored++;
      this.stats.count(f.recordType, 'generated');
      this.queue.push({ ...f, seq: this.seq++, attempts: 0, sentAt: 0 });
    }
  }

  add(f: { txid: string; recordType: string; bytes: Uint8Array; createdAt: number }): void {
    const p: Pending = { ...f, seq: this.seq++, attempts: 0, sentAt: 0 };
    this.stats.count(p.recordType, 'generated');
    if (this.outstanding >= this.t.queueSize) {
      // A full queue keeps the freshest data, as vehicles do.
      const victim = this.queue.shift() ?? p;
      this.final(victim, 'dropped');
      if (victim === p) return;
    }
    this.store?.add(this.vin, { txid: p.txid, recordType: p.recordType, createdAt: p.createdAt, bytes: p.bytes });
    this.queue.push(p);
  }

  /** Moves queued frames into the window and hands each to `send`; `refill` may add one when empty. */
  fill(now: number, send: (p: Pending) => void, refill?: () => void): void {
    const wall = Date.now();
    while (this.inflight.size < this.t.window) {
      if (this.queue.length === 0) refill?.();
      const p = this.queue.shift();
      if (!p) break;
      if (wall - p.createdAt >= this.t.ttlMs) this.final(p, 'expired');
      else if (p.attempts > this.t.maxRetries) this.final(p, 'gaveUp');
      else this.transmit(p, now, send);
    }
  }

  /** Resends frames whose wait ran out (when connected), gives up stale ones. */
  check(now: number, connected: boolean, send: (p: Pending) => void): void {
    const wall = Date.now();
    for (const p of this.inflight.values()) {
      if (now - p.sentAt < this.t.resendTimeoutMs) continue;
      const expired = wall - p.createdAt >= this.t.ttlMs;
      if (expired || p.attempts > this.t.maxRetries) {
        this.inflight.delete(p.txid);
        this.final(p, expired ? 'expired' : 'gaveUp');
      } else if (connected) {
        this.transmit(p, now, send);
      }
    }
    // Queued frames age too, even while no connection takes them.
    while (this.queue.length && wall - this.queue[0].createdAt >= this.t.ttlMs) this.final(this.queue.shift()!, 'expired');
  }

  /** The frame this response answers, taken out of the window; undefined when none waits for it. */
  answer(txid: string): Pending | undefined {
    const p = this.inflight.get(txid);
    if (p) this.inflight.delete(txid);
    return p;
  }

  /** The connection is gone: frames in the window can no longer be answered, so they go again first. */
  requeueInFlight(): void {
    if (!this.inflight.size) return;
    const back = [...this.inflight.values()].sort((a, b) => a.seq - b.seq);
    this.inflight.clear();
    this.queue = back.concat(this.queue);
  }

  final(p: Pending, outcome: FinalOutcome): void {
    this.stats.count(p.recordType, outcome);
    this.store?.remove(p.txid);
    this.onFinal(p, outcome);
  }

  private transmit(p: Pending, now: number, send: (p: Pending) => void): void {
    p.attempts++;
    this.stats.count(p.recordType, p.attempts === 1 ? 'sent' : 'resent');
    p.sentAt = now;
    this.inflight.set(p.txid, p);
    send(p);
  }
}
