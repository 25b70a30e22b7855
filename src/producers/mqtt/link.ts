import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Publish } from '../../publish/plan.js';
import type { AdmissionOptions } from './admission.js';
import { Backoff } from '../../backoff.js';
import { Batch } from './batch.js';
import { LinkError, Outbox } from './outbox.js';
import { Nudger } from './nudge.js';
import { readConnack } from './control-packets.js';
import { connackReason, DISCONNECT, encodeConnect, PacketReader, PacketType, type ConnectOptions } from './packets.js';
import { Subscription, type SubscriptionOptions } from './subscription.js';
import { openSocket, PinMismatch, type BrokerEndpoint } from './transport.js';

export { Batch } from './batch.js';
export { LinkError } from './outbox.js';

export interface LinkOptions {
  endpoint: BrokerEndpoint;
  connect: ConnectOptions;
  connectTimeoutMs: number;
  /** Longest wait between connection attempts; the first retry after a loss comes within a second. */
  retryMaxMs: number;
  /**
   * Least deadline of a record's publishes (publish_timeout_ms): a record not acknowledged by
   * its deadline is answered "not yet" while its publishes go on. The deadline follows the
   * broker's acknowledgement time up to publishTimeoutMaxMs (default: publishTimeoutMs).
   */
  publishTimeoutMs: number;
  publishTimeoutMaxMs?: number;
  /** QoS 2 publishes awaiting PUBCOMP at once (see qos2_window in the schema). */
  qos2Window: number;
  /** Admission bounds beyond the deadline (floor, ceiling, …); see Admission. */
  admission?: Omit<AdmissionOptions, 'queueMs'>;
  logger: Logger;
  /** Sent retained at QoS 1 on every connect (the server's `online` status). */
  onlineMessage?: { topic: string; payload: string };
  onState?: (connected: boolean) => void;
  /** Subscribed on every connect (Home Assistant's birth message). */
  subscription?: SubscriptionOptions;
}

interface Outage {
  since: number;
  /** Records failed since the loss. */
  failed: number;
  attempts: number;
}

/**
 * One MQTT connection to the broker: its life (connect, keep-alive, loss, retry) and the packets
 * it reads; the publishes themselves go through the Outbox. When the connection drops,
 * everything unsettled fails at once and nothing is replayed after the reconnect: the vehicle
 * resends instead, so a publish is never acknowledged twice over. An outage is logged twice:
 * one warn when it starts and one info when it ends; the attempts between are debug.
 */
export class MqttLink {
  connected = false;
  reconnects = 0;
  private socket?: Socket;
  private readonly out: Outbox;
  private readonly backoff: Backoff;
  private retryTimer?: NodeJS.Timeout;
  private connectTimer?: NodeJS.Timeout;
  private pingTimer?: NodeJS.Timeout;
  private sweepTimer?: NodeJS.Timeout;
  private pingSentAt = 0;
  /** Ends the broker's Nagle/delayed-ACK stall for the current connection (nudge.ts). */
  private nudger?: Nudger;
  /** PINGREQs written to end a stall, for tests and benchmarks. */
  nudges = 0;
  private closing = false;
  private everConnected = false;
  /** Why the current connection (or attempt) ended, for the one line logged about it. */
  private lastReason?: string;
  private outage?: Outage;
  /** One error for every record refused while disconnected: no stack per refused record. */
  private unavailable = new LinkError('broker_unavailable', 'not connected to the broker');
  private readonly sub?: Subscription;

  constructor(private readonly o: LinkOptions) {
    this.out = new Outbox({
      publishTimeoutMs: o.publishTimeoutMs,
      publishTimeoutMaxMs: o.publishTimeoutMaxMs ?? o.publishTimeoutMs,
      qos2Window: o.qos2Window,
      admission: o.admission,
      onRecordFailed: () => {
        if (this.outage) this.outage.failed++;
      },
    });
    // The first retry within a second: most losses are a broker restart.
    this.backoff = new Backoff(750, o.retryMaxMs);
    if (o.subscription) this.sub = new Subscription(o.subscription, o.logger);
  }

  start(): void {
    const every = Math.max(10, Math.min(100, this.o.publishTimeoutMs / 5));
    this.sweepTimer = setInterval(() => this.out.sweep(Date.now()), every);
    this.sweepTimer.unref();
    this.open();
  }

  /**
   * Takes a record's publishes; the batch settles when all are acknowledged, or fails. A publish
   * that can never be sent fails the whole batch with InvalidRecord before any of it is written.
   */
  send(b: Batch): void {
    if (!this.out.validate(b)) return;
    if (this.closing) return b.fail(new LinkError('shutting_down', 'server shutting down'));
    if (!this.connected) return this.out.fail(b, this.unavailable);
    this.out.take(b);
  }

  /** The deadline a record sent now gets (ms): the broker's acknowledgement time, within bounds. */
  deadlineMs(): number {
    return this.out.deadlineMs();
  }

  /**
   * Answers a resend by the publishes of its original, still in flight after their deadline
   * (`b` settled nothing yet). False when they are gone (settled or failed): publish anew.
   */
  answerAgain(b: Batch, done: (err?: Error) => void, deadline: number): boolean {
    if (b.settled || this.closing || !this.connected) return false;
    this.out.answerAgain(b, done, deadline);
    return true;
  }

  /** Records answered at their deadline while their publishes went on (a counter). */
  overdue(): number {
    return this.out.overdue;
  }

  /** Publishes written and not yet acknowledged. */
  inFlight(): number {
    return this.out.ids.inUse;
  }

  /** Publishes taken and not yet written. */
  queuedPublishes(): number {
    return this.out.queue.publishes;
  }

  /** Records taken and not yet settled. */
  unsettled(): number {
    return this.out.deadlines.size;
  }

  /** Publishes the link answers for: queued, or written and awaiting their acknowledgement. */
  held(): number {
    return this.out.held();
  }

  /** Admission: false while the link holds more than the broker acknowledges in time. */
  hasRoom(): boolean {
    return this.out.admission.hasRoom();
  }

  /** Publishes one vehicle may hold in flight (see vehicleBudget). */
  vehicleBudget(): number {
    return this.out.vehicleBudget();
  }

  /** `listener` is called each time room comes back after hasRoom() was false. */
  onRoom(listener: () => void): void {
    this.out.admission.onRoom(listener);
  }

  /** The admission window (publishes), the measured acknowledgement rate, and the record deadline it goes with. */
  admissionLimit(): { limit: number; ratePerSecond: number; deadlineMs: number; ackTimeMs: number } {
    const a = this.out.admission;
    return { limit: a.limit, ratePerSecond: a.rate, deadlineMs: this.out.ackTime.deadlineMs, ackTimeMs: this.out.ackTime.srtt };
  }

  private onPacket(type: number, buf: Buffer, start: number, length: number, flags: number): void {
    if (type === PacketType.PINGRESP) {
      // A nudge's PINGRESP does not answer the keep-alive's PINGREQ written after it.
      if (this.nudger?.pong() ?? true) this.pingSentAt = 0;
    } else if (type === PacketType.CONNACK) this.onConnack(readConnack(flags, buf.subarray(start, start + length)));
    else if (length < 2) return;
    else if (type === PacketType.PUBACK || type === PacketType.PUBCOMP) {
      if (this.nudger) this.nudger.acks++;
      this.out.acked((buf[start] << 8) | buf[start + 1]);
    } else if (type === PacketType.PUBREC) this.out.received((buf[start] << 8) | buf[start + 1]);
    else if (this.sub && this.socket && this.connected) this.sub.handle(this.socket, this.out.ids, type, buf, start, length, flags);
  }

  private open(): void {
    if (this.closing) return;
    const { logger, endpoint } = this.o;
    this.lastReason = undefined;
    // The first attempt is news; the retries of an outage are not (one warn covers them).
    const level = this.outage || this.everConnected ? 'debug' : 'info';
    logger[level](
      { event: 'mqtt_connecting', broker: `${endpoint.host}:${endpoint.port}`, attempt: this.backoff.attempt + 1 },
      'connecting to the MQTT broker',
    );
    let socket: Socket;
    try {
      socket = openSocket(endpoint, () => {
        socket.write(encodeConnect(this.o.connect));
      });
    } catch (err) {
      this.lastReason = (err as Error).message;
      this.attemptFailed();
      this.scheduleRetry();
      return;
    }
    this.socket = socket;
    const reader = new PacketReader((t, b, s, l, f) => this.onPacket(t, b, s, l, f));
    this.connectTimer = setTimeout(() => {
      this.lastReason = `no CONNACK within ${this.o.connectTimeoutMs} ms`;
      socket.destroy();
    }, this.o.connectTimeoutMs);
    const nudger = (this.nudger = new Nudger(socket, {
      inFlight: () => this.out.ids.inUse,
      writePending: () => this.out.writePending(),
      live: (s) => this.socket === s && this.connected,
      nudged: () => {
        this.nudges++;
        this.out.lastWrite = Date.now();
      },
    }));
    socket.on('data', (chunk: Buffer) => {
      nudger.readBegins();
      try {
        reader.push(chunk);
      } catch (err) {
        this.lastReason = `bad data from the broker: ${(err as Error).message}`;
        socket.destroy();
        return;
      }
      nudger.readEnds();
    });
    socket.on('error', (err) => {
      this.lastReason ??= err.message;
      const pin = err instanceof PinMismatch ? { pin_seen: `sha256/${err.seen}` } : {};
      logger.debug({ event: 'mqtt_socket_error', reason: err.message, ...pin }, 'MQTT connection error');
    });
    socket.on('close', () => this.onClose(socket));
  }

  private onConnack(rc: number): void {
    clearTimeout(this.connectTimer);
    if (rc !== 0) {
      this.lastReason = `refused by the broker: ${connackReason(rc)} (code ${rc})`;
      this.socket?.destroy();
      return;
    }
    this.connected = true;
    this.backoff.reset();
    const { logger, endpoint, connect } = this.o;
    const broker = `${endpoint.host}:${endpoint.port}`;
    const o = this.outage;
    this.outage = undefined;
    if (o && this.everConnected) {
      const outage_s = Math.round((Date.now() - o.since) / 100) / 10;
      logger.info({ event: 'mqtt_reconnected', broker, outage_s, records_failed: o.failed, attempts: o.attempts }, 'MQTT broker connection is back');
    } else {
      logger.info({ event: 'mqtt_connected', broker, client_id: connect.clientId }, 'connected to the MQTT broker');
    }
    this.everConnected = true;
    this.out.attach(this.socket!);
    this.sub?.connected(this.socket!, this.out.ids);
    if (this.o.onlineMessage) this.send(new Batch([{ ...this.o.onlineMessage, qos: 1, retain: true }], () => {}, Infinity));
    this.startPing();
    this.o.onState?.(true);
  }

  private startPing(): void {
    const ka = this.o.connect.keepAliveSeconds * 1000;
    if (ka <= 0) return;
    this.out.lastWrite = Date.now();
    this.pingTimer = setInterval(
      () => {
        const now = Date.now();
        if (this.pingSentAt && now - this.pingSentAt > ka) {
          this.lastReason = `ping timeout: no PINGRESP within ${ka} ms`;
          this.socket?.destroy();
          return;
        }
        if (!this.pingSentAt && now - this.out.lastWrite >= ka / 2) {
          this.pingSentAt = now;
          this.out.lastWrite = now;
          this.nudger?.ping(true);
        }
      },
      Math.max(250, Math.min(ka / 4, 5000)),
    );
    this.pingTimer.unref();
  }

  /** An attempt that never got to CONNACK: the outage starts (one warn), or goes on (debug). */
  private attemptFailed(): void {
    const reason = this.lastReason ?? 'connection closed';
    const broker = `${this.o.endpoint.host}:${this.o.endpoint.port}`;
    if (!this.outage) {
      this.outage = { since: Date.now(), failed: 0, attempts: 1 };
      this.o.logger.warn({ event: 'mqtt_connect_failed', broker, reason }, 'cannot connect to the MQTT broker; retrying');
    } else {
      this.outage.attempts++;
      this.o.logger.debug({ event: 'mqtt_connect_failed', broker, reason, attempt: this.outage.attempts }, 'MQTT connection attempt failed');
    }
  }

  private onClose(socket: Socket): void {
    if (this.socket !== socket) return;
    clearTimeout(this.connectTimer);
    clearInterval(this.pingTimer);
    this.socket = undefined;
    this.pingSentAt = 0;
    this.nudger = undefined;
    this.sub?.reset();
    const was = this.connected;
    this.connected = false;
    const reason = this.lastReason ?? 'connection closed by the broker';
    if (this.closing) return this.out.detach(new LinkError('shutting_down', 'server shutting down'));
    if (was) {
      this.outage = { since: Date.now(), failed: 0, attempts: 0 };
      this.unavailable = new LinkError('broker_unavailable', `not connected to the broker (${reason})`);
      this.o.logger.warn({ event: 'mqtt_disconnected', reason }, 'lost the MQTT broker connection; retrying');
      this.o.onState?.(false);
    } else {
      this.attemptFailed();
    }
    // Everything unsettled fails now; none of it is sent after a reconnect.
    this.out.detach(new LinkError('connection_lost', `connection to the broker lost: ${reason}`));
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.closing) return;
    const delay = this.backoff.next();
    this.reconnects++;
    this.o.logger.debug({ event: 'mqtt_retry_scheduled', delay_ms: delay, attempt: this.backoff.attempt + 1 }, 'will retry the MQTT broker');
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  /** Publishes `last` (e.g. the offline status), disconnects cleanly, and stops retrying. */
  async close(timeoutMs: number, last?: Publish): Promise<void> {
    clearTimeout(this.retryTimer);
    clearInterval(this.sweepTimer);
    if (this.connected && last) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, timeoutMs);
        this.send(
          new Batch(
            [last],
            () => {
              clearTimeout(t);
              resolve();
            },
            Infinity,
          ),
        );
      });
    }
    this.closing = true;
    const socket = this.socket;
    if (!socket) return this.out.detach(new LinkError('shutting_down', 'server shutting down'));
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => (socket.destroy(), resolve()), Math.max(timeoutMs, 50));
      socket.once('close', () => (clearTimeout(t), resolve()));
      if (this.connected) socket.end(DISCONNECT);
      else socket.destroy();
    });
  }
}
