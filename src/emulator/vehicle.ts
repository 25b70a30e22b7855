import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { MESSAGE_STREAM, MESSAGE_STREAM_ACK, readFrame, writeStreamFrame, type Frame } from '../envelope/index.js';
import { seedOf } from './model.js';
import { tuningOf, type AckEvent, type ErrorEvent, type VehicleOptions, type VehicleTuning } from './options.js';
import { Outbox, type Pending } from './outbox.js';
import { RecordFactory } from './records.js';
import { Backoff } from '../backoff.js';
import { EmulatorStats, type FinalOutcome } from './stats.js';

export type { VehicleOptions, VehicleTuning } from './options.js';

/**
 * One emulated vehicle: an mTLS WebSocket client that streams records like a car does. Every frame
 * waits for its response: an ack ends it, an error ends it (never resent), silence past the resend
 * timeout sends the same bytes again. A lost connection puts unanswered frames back in front of
 * the queue and reconnects with exponential backoff.
 *
 * Events: connected, connect-failed (reason), disconnected ({ code, reason }), ack (AckEvent), error-response (ErrorEvent),
 * final ({ txid, recordType, outcome }), idle.
 */
export class EmulatedVehicle extends EventEmitter {
  readonly vin: string;
  readonly stats = new EmulatorStats();
  readonly tuning: VehicleTuning;
  private readonly factory?: RecordFactory;
  private readonly outbox: Outbox;
  private ws?: WebSocket;
  private open = false;
  private made = 0;
  private making: boolean;
  private started = false;
  private stopped = false;
  private genStart = 0;
  private genTimer?: NodeJS.Timeout;
  private tickTimer?: NodeJS.Timeout;
  private reconnectTimer?: NodeJS.Timeout;
  private pingTimer?: NodeJS.Timeout;
  private readonly backoff: Backoff;
  private idleWaiters: (() => void)[] = [];
  private readonly send = (p: Pending) => this.ws!.send(p.bytes, { binary: true });

  constructor(private readonly opts: VehicleOptions) {
    super();
    this.vin = opts.vin;
    const t = (this.tuning = tuningOf(opts));
    this.backoff = new Backoff(t.backoffMs, t.backoffMaxMs);
    this.making = t.generate && (t.frames === undefined || t.frames > 0);
    if (t.generate) {
      this.factory = new RecordFactory({
        vin: opts.vin,
        seed: opts.seed ?? seedOf(opts.vin),
        fields: t.fields,
        alertsEvery: t.alertsEvery,
        errorsEvery: t.errorsEvery,
        simStepSeconds: t.simStepSeconds,
        harshEvery: t.harshEvery,
      });
    }
    this.outbox = new Outbox(opts.vin, t, this.stats, opts.store, (p, outcome) => this.onFinal(p, outcome));
  }

  /** The V fields this vehicle sends. */
  get fieldNames(): string[] {
    return this.factory?.fieldNames ?? [];
  }

  /** Still making frames of its own. */
  get generating(): boolean {
    return this.making && (this.tuning.frames === undefined || this.made < this.tuning.frames);
  }

  get connected(): boolean {
    return this.open;
  }

  /** Frames not yet at a final outcome: queued plus in flight. */
  get outstanding(): number {
    return this.outbox.outstanding;
  }

  get inFlight(): number {
    return this.outbox.inFlight;
  }

  /** True once it makes no more frames and every frame has its outcome. */
  get finished(): boolean {
    return !this.generating && this.outbox.outstanding === 0;
  }

  /** Restores frames left in the store, starts making frames and connects. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.outbox.restore(this.opts.store?.take(this.vin) ?? []);
    const tick = Math.min(250, Math.max(10, this.tuning.resendTimeoutMs / 5));
    this.tickTimer = setInterval(() => this.tick(), tick);
    if (this.making && this.tuning.rate > 0) {
      // Spread a fleet's frames over the interval instead of sending them all at once.
      this.genStart = performance.now() + (Math.random() * 1000) / this.tuning.rate;
      this.scheduleGeneration();
    }
    this.connect();
  }

  /** Sends a record of any type and payload through the same queue (tests: a payload the server refuses). */
  enqueueRecord(recordType: string, payload: Uint8Array, opts: { txid?: string } = {}): string {
    const txid = opts.txid ?? randomUUID();
    this.add(txid, recordType, payload);
    this.pump();
    return txid;
  }

  /** Makes no more frames; those made still go out and wait for their responses. */
  stopGenerating(): void {
    this.making = false;
    clearTimeout(this.genTimer);
    this.genTimer = undefined;
    this.checkIdle();
  }

  /** Resolves true when finished, false when `timeoutMs` passes (or the vehicle stops) first. */
  whenFinished(timeoutMs = Infinity): Promise<boolean> {
    if (this.finished) return Promise.resolve(true);
    if (this.stopped) return Promise.resolve(false);
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(timer);
        resolve(this.finished);
      };
      this.idleWaiters.push(done);
      if (Number.isFinite(timeoutMs)) {
        timer = setTimeout(() => {
          this.idleWaiters = this.idleWaiters.filter((w) => w !== done);
          resolve(this.finished);
        }, timeoutMs);
      }
    });
  }

  /** Closes the connection and all timers. Unfinished frames stay in the store for the next run. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.making = false;
    for (const t of [this.genTimer, this.reconnectTimer]) clearTimeout(t);
    clearInterval(this.tickTimer);
    clearInterval(this.pingTimer);
    const ws = this.ws;
    this.open = false;
    if (ws) {
      const closed = new Promise<void>((r) => ws.once('close', () => r()));
      if (ws.readyState === WebSocket.OPEN) ws.close(1000, 'emulator stopped');
      else ws.terminate();
      await Promise.race([closed, new Promise<void>((r) => setTimeout(r, 1000).unref())]);
      ws.terminate();
    }
    for (const w of this.idleWaiters.splice(0)) w();
  }

  private connect(): void {
    if (this.stopped) return;
    const ws = new WebSocket(this.opts.url, {
      cert: this.opts.cert.certPem,
      key: this.opts.cert.keyPem,
      ca: this.opts.ca,
      handshakeTimeout: this.tuning.handshakeTimeoutMs,
      perMessageDeflate: false,
      maxPayload: 16 * 1024 * 1024,
      headers: { Version: 'fleet-telemetry-emulator', 'X-Network-Interface': 'wifi', 'X-TXID': randomUUID(), ...this.opts.headers },
    });
    this.ws = ws;
    let openedAt = 0;
    let answered = false;
    let lastError = '';
    let gone = false;
    ws.on('open', () => {
      if (this.stopped) return;
      openedAt = performance.now();
      this.open = true;
      this.stats.connects++;
      this.emit('connected');
      this.startPing(ws);
      this.pump();
    });
    ws.on('message', (data: Buffer) => {
      if (this.ws !== ws) return;
      answered = true;
      this.onResponse(data);
    });
    ws.on('error', (err) => {
      lastError = err.message;
    });
    ws.on('close', (code, reason) => {
      if (gone) return;
      gone = true;
      if (this.ws === ws) {
        this.ws = undefined;
        this.open = false;
      }
      clearInterval(this.pingTimer);
      this.outbox.requeueInFlight();
      if (this.stopped) return;
      if (openedAt) {
        this.stats.disconnects++;
        this.emit('disconnected', { code, reason: reason.toString() });
      } else {
        const reason = lastError || `closed with code ${code}`;
        this.stats.noteConnectError(reason);
        this.emit('connect-failed', reason);
      }
      // A connection that worked resets the backoff; one that did nothing does not.
      const healthy = openedAt > 0 && (answered || performance.now() - openedAt > 10_000);
      this.scheduleReconnect(healthy);
    });
  }

  private scheduleReconnect(healthy: boolean): void {
    if (healthy) this.backoff.reset();
    const delay = this.backoff.next();
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect();
    }, delay);
  }

  private startPing(ws: WebSocket): void {
    clearInterval(this.pingTimer);
    if (!this.tuning.pingIntervalMs) return;
    let waiting = false;
    ws.on('pong', () => {
      waiting = false;
    });
    this.pingTimer = setInterval(() => {
      if (waiting) {
        ws.terminate(); // the peer is gone without a close; reconnect
        return;
      }
      waiting = true;
      ws.ping();
    }, this.tuning.pingIntervalMs);
  }

  private onResponse(data: Buffer): void {
    let f: Frame;
    try {
      f = readFrame(data);
    } catch (err) {
      this.stats.unmatchedErrors++;
      this.stats.noteErrorReason(`unreadable response: ${(err as Error).message}`);
      return;
    }
    if (f.messageType === MESSAGE_STREAM_ACK) {
      const p = this.outbox.answer(f.txid);
      if (!p) {
        this.stats.lateResponses++;
        return;
      }
      const latencyMs = performance.now() - p.sentAt;
      this.stats.type(p.recordType).latency.record(latencyMs);
      this.emit('ack', { txid: p.txid, recordType: p.recordType, latencyMs } satisfies AckEvent);
      this.outbox.final(p, 'acked');
    } else if (f.messageType === MESSAGE_STREAM) {
      const reason = Buffer.from(f.stream?.payload ?? []).toString('utf8');
      this.stats.noteErrorReason(reason);
      // docs/protocol.md §2: an error means the frame can never succeed; resending would only repeat it.
      const p = this.outbox.answer(f.txid);
      if (!p) {
        this.stats.unmatchedErrors++;
        return;
      }
      this.emit('error-response', { txid: p.txid, recordType: p.recordType, reason } satisfies ErrorEvent);
      this.outbox.final(p, 'errored');
    } else {
      this.stats.unmatchedErrors++;
      this.stats.noteErrorReason(`response of message type ${f.messageType}`);
    }
    this.pump();
  }

  private onFinal(p: Pending, outcome: FinalOutcome): void {
    if (this.listenerCount('final')) this.emit('final', { txid: p.txid, recordType: p.recordType, outcome });
    this.checkIdle();
  }

  private add(txid: string, recordType: string, payload: Uint8Array): void {
    const now = Date.now();
    const bytes = writeStreamFrame({ txid, recordType, payload, senderId: `vehicle_device.${this.vin}`, createdAt: Math.floor(now / 1000) });
    this.outbox.add({ txid, recordType, bytes, createdAt: now });
  }

  private generateOne(): void {
    const rec = this.factory!.next();
    this.made++;
    this.add(randomUUID(), rec.recordType, rec.payload);
    if (!this.generating) this.checkIdle();
  }

  private scheduleGeneration(): void {
    if (!this.generating || this.stopped) return;
    const interval = 1000 / this.tuning.rate;
    const due = this.genStart + this.made * interval;
    this.genTimer = setTimeout(
      () => {
        this.genTimer = undefined;
        const now = performance.now();
        // Catch up on frames that fell due while the event loop was busy.
        for (let n = 0; n < 10_000 && this.generating && this.genStart + this.made * interval <= now; n++) this.generateOne();
        this.pump();
        this.scheduleGeneration();
      },
      Math.max(0, due - performance.now()),
    );
  }

  private pump(): void {
    if (!this.open || !this.ws) return;
    // At rate 0 a frame is made whenever the window has room.
    const refill = this.tuning.rate === 0 ? () => this.generating && this.generateOne() : undefined;
    this.outbox.fill(performance.now(), this.send, refill);
  }

  private tick(): void {
    this.outbox.check(performance.now(), this.open && !!this.ws, this.send);
    this.pump();
  }

  private checkIdle(): void {
    if (!this.finished) return;
    this.emit('idle');
    for (const w of this.idleWaiters.splice(0)) w();
  }
}
