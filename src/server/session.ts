import { shortenForLog } from '../log-limit.js';
import { DecodeError, isPermanent, UnreadableFrame } from '../errors.js';
import { MESSAGE_STREAM, peekTxid, readFrame, writeAck, writeError, type Frame } from '../envelope/index.js';
import { decodeRecord } from '../record/decode.js';
import type { VehicleRecord } from '../record/types.js';
import { makeConnectivityRecord, UntilTaken } from './connectivity.js';
import { SlidingWindow } from './rate-limit.js';
import { SessionLog } from './vehicle-log.js';
import { PendingRecords } from './pending.js';
import type { FrameOutcome, SessionInfo, SessionOptions, VehicleSocket } from './session-types.js';
import { FrameQueue } from './frame-queue.js';

/** docs/protocol.md §3.2: frames above this many bytes are refused with an error. */
const MAX_FRAME_BYTES = 1_000_000;
/**
 * Bytes of frames received and not yet handled, per connection, above which the session stops
 * reading. The WebSocket layer may still deliver a message or two after pause(); the bound is on
 * top of those.
 */
export const MAX_QUEUED_BYTES = 2 * MAX_FRAME_BYTES;

export type { FrameOutcome, SessionInfo, SessionOptions, VehicleSocket } from './session-types.js';

/**
 * One vehicle's connection: frames in, at most one response per frame out (docs/protocol.md §3). Frames are
 * handled concurrently (vehicles pipeline); responses go out as their records settle.
 */
export class VehicleSession {
  readonly connectedAt = Date.now();
  frames = 0;
  fields = 0;
  lastFrameAt = 0;
  private sessionLog?: SessionLog;
  private readonly queue = new FrameQueue();
  private started = false;
  private closed = false;
  private paused = false;
  private draining = false;
  private inFlight = 0;
  /** Fields of the records in flight, against the producers' per-vehicle budget. */
  private fieldsInFlight = 0;
  /** Held at this connection's own bounds (records or fields): each settle looks again. */
  private heldByOwnBound = false;
  private idle: (() => void)[] = [];
  private readonly window?: SlidingWindow;
  private windowTimer?: NodeJS.Timeout;
  private senderWarned = false;
  private connectedNotice?: UntilTaken;
  /** The vehicle's presence going out (online before CONNECTED); never rejects. */
  private opening?: Promise<void>;

  constructor(
    readonly info: SessionInfo,
    private readonly socket: VehicleSocket,
    private readonly opts: SessionOptions,
    /** This connection among every connection of the server's workers (presence). */
    readonly key = '',
  ) {
    if (opts.rateLimit) this.window = new SlidingWindow(opts.rateLimit.messageLimit, opts.rateLimit.intervalMs);
  }

  /**
   * Made on first use: most connections never log, and 10,000 idle vehicles each holding a child
   * logger is memory for nothing. Limited per event (see vehicle-log.ts): vehicles must not
   * control the log volume.
   */
  private get log(): SessionLog {
    return (this.sessionLog ??= new SessionLog(this.opts.logger, { vin: this.info.vin, connection_id: this.info.connectionId }, this.opts.logs, Date.now, (e) =>
      this.opts.events.logSuppressed(e),
    ));
  }

  /** Records this connection may hold in flight at once. */
  private get perVehicle(): number {
    return this.opts.gate?.perVehicle ?? Infinity;
  }

  /** Publishes the CONNECTED record; frames that arrive meanwhile wait for it (docs/protocol.md §4). */
  async start(): Promise<void> {
    this.opts.events.vehicleConnected(this);
    this.opening = this.opts.presence?.opened(this.key, this.info.vin);
    await this.opening;
    await this.sendConnectivity('CONNECTED');
    this.started = true;
    this.pump();
  }

  /** A WebSocket message from the vehicle. */
  onMessage(data: Buffer): void {
    if (this.closed || this.draining) return;
    this.queue.push(data, performance.now());
    this.pump();
    if (this.queue.bytes > MAX_QUEUED_BYTES) this.hold();
  }

  /** The connection is gone: publish DISCONNECTED once in-flight frames settled. */
  async onClose(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.windowTimer);
    this.opts.gate?.forget(this);
    this.queue.clear();
    // CONNECTED goes out first, as before presence: it follows the presence publish.
    await this.opening;
    this.connectedNotice?.cancel();
    await this.whenIdle();
    await this.sendConnectivity('DISCONNECTED');
    this.sessionLog?.close();
    this.opts.events.vehicleDisconnected(this);
    this.opts.presence?.closed(this.key);
  }

  /** Stop taking frames and wait for those in flight (graceful shutdown). */
  async drain(): Promise<void> {
    this.draining = true;
    this.queue.clear();
    this.opts.gate?.forget(this);
    this.socket.pause();
    await this.whenIdle();
  }

  /** Resume reading: the gate has room again and it is this session's turn. */
  wake(): void {
    this.pump();
  }

  private whenIdle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private async sendConnectivity(status: 'CONNECTED' | 'DISCONNECTED'): Promise<void> {
    const producers = this.opts.dispatcher.producersFor('connectivity');
    if (!producers) return;
    const record = makeConnectivityRecord(this.info, status);
    const send = () => this.opts.dispatcher.dispatch(record, producers);
    try {
      if (status === 'CONNECTED') {
        // Offered again after an outage for as long as the vehicle stays connected.
        this.connectedNotice = new UntilTaken(
          send,
          () => !this.closed && !this.draining,
          (attempts) =>
            this.log.line('info', { event: 'connectivity_published_late', status, attempts }, 'CONNECTED record published once the producer took it'),
        );
        await this.connectedNotice.attempt();
      } else {
        await send();
      }
    } catch (err) {
      this.log.line('warn', { event: 'connectivity_not_published', status, err: shortenForLog((err as Error).message) }, 'connectivity record not published');
    }
  }

  private pump(): void {
    if (!this.started || this.closed || this.draining) return;
    while (this.queue.length) {
      // This connection's own bounds: it resumes as its records settle (see settle()). A record
      // of any size goes out when nothing of this vehicle is in flight.
      if (this.inFlight >= this.perVehicle || (this.inFlight > 0 && this.fieldsInFlight >= (this.opts.gate?.vehicleBudget() ?? Infinity))) {
        if (!this.paused) this.opts.events.admissionWaited('vehicle');
        this.heldByOwnBound = true;
        return this.hold();
      }
      if (this.opts.gate && !this.opts.gate.canAdmit(this)) {
        this.opts.gate.park(this);
        if (!this.paused) this.opts.events.admissionWaited('server');
        return this.hold();
      }
      if (this.window) {
        const now = Date.now();
        const wait = this.window.delay(now);
        if (wait > 0) {
          this.hold();
          this.opts.events.rateLimited();
          if (!this.windowTimer) {
            this.windowTimer = setTimeout(() => {
              this.windowTimer = undefined;
              this.pump();
            }, wait);
          }
          return;
        }
        this.window.record(now);
      }
      const data = this.queue.shift();
      this.handle(data, this.queue.arrivedAt);
    }
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
  }

  private hold(): void {
    if (!this.paused) {
      this.paused = true;
      this.socket.pause();
    }
  }

  private respond(data: Uint8Array): void {
    if (!this.closed) this.socket.send(data);
  }

  private handle(data: Buffer, arrivedAt: number): void {
    // The first frame: this connection works, so the vehicle's older ones are most likely dead.
    if (this.frames++ === 0) this.opts.presence?.active(this.key);
    this.lastFrameAt = Date.now();
    const ev = this.opts.events;
    ev.frameReceived(data.length);
    if (data.length > MAX_FRAME_BYTES) {
      this.respond(writeError(peekTxid(data), `frame of ${data.length} bytes exceeds ${MAX_FRAME_BYTES}`));
      this.log.line('warn', { event: 'frame_too_big', bytes: data.length }, 'frame too big');
      return ev.frameDone('', 'error_too_big');
    }
    let f: Frame;
    try {
      f = readFrame(data);
    } catch (err) {
      return this.refuse(err);
    }
    if (f.messageType !== MESSAGE_STREAM) {
      this.respond(writeAck(f.txidBytes, ''));
      return ev.frameDone(f.recordType, 'acked_not_stream');
    }
    this.checkSender(f);
    const producers = this.opts.dispatcher.producersFor(f.recordType);
    if (!producers) {
      this.respond(writeAck(f.txidBytes, f.recordType));
      return ev.frameDone(f.recordType, 'acked_unrouted');
    }
    const payload = f.stream!.payload;
    const key = this.opts.pending && PendingRecords.key(this.info.vin, f.recordType, f.txid);
    const joined = key === undefined ? undefined : this.opts.pending!.join(key, payload);
    if (joined) {
      // A resend of a frame still being published: answered when that settles, nothing sent twice.
      ev.resendJoined();
      return this.answerWhen(joined, f, arrivedAt, undefined);
    }
    if (key !== undefined && this.opts.pending!.ackedBefore(key, payload)) {
      // A resend of a frame already acked (the ack crossed it, or it waited unread): ack again.
      this.respond(writeAck(f.txidBytes, f.recordType));
      return ev.frameDone(f.recordType, 'acked_resend');
    }
    let record: VehicleRecord;
    try {
      record = decodeRecord(f.recordType, payload, this.info.vin, f.txid);
    } catch (err) {
      return this.refuse(err, f);
    }
    record.receivedAt = this.lastFrameAt;
    record.clientVersion = this.info.clientVersion;
    const settled = this.opts.dispatcher.dispatch(record, producers);
    if (key !== undefined) this.opts.pending!.track(key, payload, settled);
    this.answerWhen(settled, f, arrivedAt, record.type === 'V' ? record.data.length : 1, record);
  }

  /**
   * Answers a frame the server itself finds wrong (errors.ts: permanent): an error response, so
   * the vehicle stops resending it. Any other error is a bug here and is thrown on.
   */
  private refuse(err: unknown, f?: Frame): void {
    const ev = this.opts.events;
    if (err instanceof UnreadableFrame) {
      this.respond(writeError('', `unreadable frame: ${err.message}`));
      this.log.line('warn', { event: 'frame_unreadable', reason: shortenForLog(err.message) }, 'unreadable frame');
      return ev.frameDone('', 'error_unreadable');
    }
    if (err instanceof DecodeError && f) {
      this.respond(writeError(f.txidBytes, `payload does not decode: ${err.message}`));
      this.log.line(
        'warn',
        { event: 'payload_undecodable', txid: shortenForLog(f.txid), record_type: shortenForLog(f.recordType), reason: shortenForLog(err.message) },
        'payload does not decode',
      );
      return ev.frameDone(f.recordType, 'error_undecodable');
    }
    throw err;
  }

  /**
   * Answers a frame when `settled` does: an ack, an error for a record that can never be
   * produced, or nothing (the vehicle resends). `fields` is undefined for a joined resend: its
   * fields are counted once, with the frame it joined.
   */
  private answerWhen(settled: Promise<void>, f: Frame, arrivedAt: number, fields: number | undefined, record?: VehicleRecord): void {
    const ev = this.opts.events;
    const weight = fields ?? 0;
    this.inFlight++;
    this.fieldsInFlight += weight;
    this.opts.gate?.started();
    ev.recordStarted();
    const started = performance.now();
    settled.then(
      () => {
        const n = fields ?? 0;
        this.fields += n;
        this.respond(writeAck(f.txidBytes, f.recordType));
        const now = performance.now();
        ev.recordPublished(f.recordType, n, (now - started) / 1000, (now - arrivedAt) / 1000);
        if (record) ev.recordAcked(record, this);
        this.settle(f.recordType, 'acked', weight);
      },
      (err: unknown) => {
        if (fields !== undefined) ev.producerFailed(err);
        const reason = err instanceof Error ? err.message : String(err);
        if (isPermanent(err)) {
          // The record can never be produced: an error response, so the vehicle stops resending.
          this.respond(writeError(f.txidBytes, reason));
          this.log.line(
            'warn',
            { event: 'record_invalid', txid: shortenForLog(f.txid), record_type: shortenForLog(f.recordType), reason: shortenForLog(reason) },
            'record can never be produced; error response',
          );
          return this.settle(f.recordType, 'error_invalid', weight);
        }
        // docs/protocol.md §3.7: no response at all; the vehicle resends after its own timeout. A broker failure,
        // not the vehicle's: the MQTT producer logs the outage once; here only debug, limited.
        this.log.line(
          'debug',
          { event: 'record_unacked', txid: shortenForLog(f.txid), record_type: shortenForLog(f.recordType), reason: shortenForLog(reason) },
          'record not taken; no response',
        );
        this.settle(f.recordType, 'unacked', weight);
      },
    );
  }

  private settle(recordType: string, outcome: FrameOutcome, weight: number): void {
    this.fieldsInFlight -= weight;
    this.opts.events.frameDone(recordType, outcome);
    this.opts.gate?.finished();
    this.opts.events.recordFinished();
    if (--this.inFlight === 0 && this.idle.length) {
      const waiters = this.idle;
      this.idle = [];
      for (const w of waiters) w();
    }
    // Held at this connection's own bounds: one record settled, so look again.
    if (this.heldByOwnBound) {
      this.heldByOwnBound = false;
      this.pump();
    } else if (this.paused && !this.queue.length) this.pump();
  }

  private checkSender(f: Frame): void {
    const sender = f.stream!.senderId;
    if (!sender || sender === this.info.vin || sender === `vehicle_device.${this.info.vin}`) return;
    this.opts.events.senderMismatch();
    if (!this.senderWarned) {
      this.senderWarned = true;
      this.log.line(
        'warn',
        { event: 'sender_id_mismatch', sender_id: shortenForLog(sender), txid: shortenForLog(f.txid) },
        'sender_id does not match the certificate; using the certificate VIN',
      );
    }
  }
}
