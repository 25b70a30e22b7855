import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Publish } from '../../publish/plan.js';
import {
  DISCONNECT,
  encodeConnect,
  encodePubrel,
  PacketReader,
  PacketType,
  PINGREQ,
  publishSize,
  writePublish,
  type ConnectOptions,
} from './packets.js';
import { openSocket, PinMismatch, type BrokerEndpoint } from './transport.js';

export class LinkError extends Error {
  constructor(
    readonly code: 'broker_unavailable' | 'connection_lost' | 'publish_timeout' | 'shutting_down',
    message: string,
  ) {
    super(message);
  }
}

/** The publishes of one record, settled together: all acknowledged, or failed. */
export class Batch {
  next = 0;
  left: number;
  settled = false;
  constructor(
    readonly pubs: Publish[],
    readonly done: (err?: Error) => void,
    readonly deadline: number,
  ) {
    this.left = pubs.length;
  }
  fail(err: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.done(err);
  }
  ackOne(): void {
    if (!this.settled && --this.left === 0) {
      this.settled = true;
      this.done();
    }
  }
}

export interface LinkOptions {
  endpoint: BrokerEndpoint;
  connect: ConnectOptions;
  connectTimeoutMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /** QoS 2 publishes awaiting PUBCOMP at once (see qos2_window in the schema). */
  qos2Window: number;
  logger: Logger;
  /** Sent retained at QoS 1 on every connect (the server's `online` status). */
  onlineMessage?: { topic: string; payload: string };
  onState?: (connected: boolean) => void;
}

const MAX_ID = 65535;
const CONNACK_REASONS = ['accepted', 'unacceptable protocol version', 'client id rejected', 'server unavailable', 'bad user name or password', 'not authorized'];

/**
 * One MQTT connection to the broker with a publish path built for many small messages: every
 * record queued within one event-loop turn goes out in a single socket write (one buffer,
 * encoded in place), and a record settles when its last PUBACK/PUBCOMP arrives. When the
 * connection drops, everything unsettled fails at once and nothing is replayed after the
 * reconnect: the vehicle resends instead, so a publish is never acknowledged twice over.
 */
export class MqttLink {
  connected = false;
  reconnects = 0;
  private socket?: Socket;
  private reader?: PacketReader;
  private readonly owners: (Batch | null | undefined)[] = new Array(MAX_ID + 1);
  private nextId = 1;
  private idsInUse = 0;
  private readonly isQos2 = new Uint8Array(MAX_ID + 1);
  private qos2InFlight = 0;
  private queue: Batch[] = [];
  private flushScheduled = false;
  private waitingDrain = false;
  private attempt = 0;
  private retryTimer?: NodeJS.Timeout;
  private connectTimer?: NodeJS.Timeout;
  private pingTimer?: NodeJS.Timeout;
  private lastWrite = 0;
  private pingSentAt = 0;
  private closing = false;

  constructor(private readonly o: LinkOptions) {}

  start(): void {
    this.open();
  }

  /** Queues a record's publishes; `batch.done` settles it. */
  send(batch: Batch): void {
    if (!this.connected) {
      batch.fail(new LinkError('broker_unavailable', 'not connected to the broker'));
      return;
    }
    this.queue.push(batch);
    this.scheduleFlush();
  }

  inFlight(): number {
    return this.idsInUse;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.waitingDrain) return;
    this.flushScheduled = true;
    // One write per event-loop turn: records that arrive together share it.
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private allocId(owner: Batch | null): number {
    if (this.idsInUse >= MAX_ID) return 0;
    let id = this.nextId;
    while (this.owners[id] !== undefined) id = id === MAX_ID ? 1 : id + 1;
    this.owners[id] = owner;
    this.idsInUse++;
    this.nextId = id === MAX_ID ? 1 : id + 1;
    return id;
  }

  private freeId(id: number): Batch | null | undefined {
    const owner = this.owners[id];
    if (owner !== undefined) {
      this.owners[id] = undefined;
      this.idsInUse--;
      if (this.isQos2[id]) {
        this.isQos2[id] = 0;
        this.qos2InFlight--;
      }
    }
    return owner;
  }

  // Scratch arrays reused by every flush: no object per publish on the hot path.
  private readonly fP: Publish[] = [];
  private readonly fB: Batch[] = [];
  private readonly fT: number[] = [];
  private readonly fL: number[] = [];
  private readonly fI: number[] = [];

  private flush(): void {
    const socket = this.socket;
    if (!socket || !this.connected || this.queue.length === 0) return;
    const { fP, fB, fT, fL, fI } = this;
    // Pass 1: sizes and packet ids. Pass 2: encode everything into one buffer.
    let n = 0;
    let size = 0;
    let qi = 0;
    outer: for (; qi < this.queue.length; qi++) {
      const b = this.queue[qi];
      if (b.settled) continue;
      while (b.next < b.pubs.length) {
        const p = b.pubs[b.next];
        let id = 0;
        if (p.qos > 0) {
          if (p.qos === 2 && this.qos2InFlight >= this.o.qos2Window) break outer;
          id = this.allocId(b);
          if (id === 0) break outer; // every packet id taken: the rest waits for acks
          if (p.qos === 2) {
            this.isQos2[id] = 1;
            this.qos2InFlight++;
          }
        }
        const tb = Buffer.byteLength(p.topic, 'utf8');
        const pb = Buffer.byteLength(p.payload, 'utf8');
        size += publishSize(tb, pb, p.qos);
        fP[n] = p;
        fB[n] = b;
        fT[n] = tb;
        fL[n] = pb;
        fI[n] = id;
        n++;
        b.next++;
      }
    }
    this.queue = qi >= this.queue.length ? [] : this.queue.slice(qi);
    if (n === 0) return;
    const buf = Buffer.allocUnsafe(size);
    let at = 0;
    let qos0: Batch[] | undefined;
    for (let i = 0; i < n; i++) {
      const p = fP[i];
      at = writePublish(buf, at, p.topic, fT[i], p.payload, fL[i], p.qos, p.retain, fI[i]);
      if (p.qos === 0) (qos0 ??= []).push(fB[i]);
    }
    fP.length = 0;
    fB.length = 0;
    this.lastWrite = Date.now();
    const ok = socket.write(buf, (err) => {
      // QoS 0 is done once written to the broker connection.
      if (!err && qos0) for (const b of qos0) b.ackOne();
    });
    if (!ok) {
      this.waitingDrain = true;
      socket.once('drain', () => {
        this.waitingDrain = false;
        this.scheduleFlush();
      });
    }
    if (this.queue.length) this.scheduleFlush();
  }

  private onPacket(type: number, buf: Buffer, start: number, length: number): void {
    if (type === PacketType.PINGRESP) {
      this.pingSentAt = 0;
      return;
    }
    if (length < 2) return;
    switch (type) {
      case PacketType.PUBACK:
      case PacketType.PUBCOMP: {
        const owner = this.freeId((buf[start] << 8) | buf[start + 1]);
        owner?.ackOne();
        if (this.queue.length) this.scheduleFlush();
        return;
      }
      case PacketType.PUBREC: {
        const id = (buf[start] << 8) | buf[start + 1];
        if (this.owners[id] !== undefined) this.socket?.write(encodePubrel(id));
        return;
      }
      case PacketType.CONNACK:
        this.onConnack(buf[start + 1]);
        return;
      default:
        return;
    }
  }

  private open(): void {
    if (this.closing) return;
    const { logger, endpoint } = this.o;
    logger.info({ event: 'mqtt_connecting', broker: `${endpoint.host}:${endpoint.port}`, attempt: this.attempt + 1 }, 'connecting to the MQTT broker');
    let socket: Socket;
    try {
      socket = openSocket(endpoint, () => {
        socket.write(encodeConnect(this.o.connect));
      });
    } catch (err) {
      logger.error({ event: 'mqtt_connect_failed', reason: (err as Error).message }, 'cannot connect to the MQTT broker');
      this.scheduleRetry();
      return;
    }
    this.socket = socket;
    this.reader = new PacketReader((t, b, s, l) => this.onPacket(t, b, s, l));
    this.connectTimer = setTimeout(() => {
      logger.warn({ event: 'mqtt_connect_timeout', timeout_ms: this.o.connectTimeoutMs }, 'MQTT connect timed out');
      socket.destroy();
    }, this.o.connectTimeoutMs);
    socket.on('data', (chunk: Buffer) => {
      try {
        this.reader!.push(chunk);
      } catch (err) {
        logger.error({ event: 'mqtt_protocol_error', reason: (err as Error).message }, 'bad data from the MQTT broker');
        socket.destroy();
      }
    });
    socket.on('error', (err) => {
      const pin = err instanceof PinMismatch ? { pin_seen: `sha256/${err.seen}` } : {};
      logger.warn({ event: 'mqtt_socket_error', reason: err.message, ...pin }, 'MQTT connection error');
    });
    socket.on('close', () => this.onClose(socket));
  }

  private onConnack(rc: number): void {
    clearTimeout(this.connectTimer);
    if (rc !== 0) {
      this.o.logger.error({ event: 'mqtt_connect_refused', code: rc, reason: CONNACK_REASONS[rc] ?? 'unknown' }, 'MQTT broker refused the connection');
      this.socket?.destroy();
      return;
    }
    this.connected = true;
    this.attempt = 0;
    this.o.logger.info({ event: 'mqtt_connected', broker: `${this.o.endpoint.host}:${this.o.endpoint.port}`, client_id: this.o.connect.clientId }, 'connected to the MQTT broker');
    if (this.o.onlineMessage) {
      this.send(new Batch([{ ...this.o.onlineMessage, qos: 1, retain: true }], () => {}, Infinity));
    }
    this.startPing();
    this.o.onState?.(true);
  }

  private startPing(): void {
    const ka = this.o.connect.keepAliveSeconds * 1000;
    if (ka <= 0) return;
    this.lastWrite = Date.now();
    this.pingTimer = setInterval(() => {
      const now = Date.now();
      if (this.pingSentAt && now - this.pingSentAt > ka) {
        this.o.logger.warn({ event: 'mqtt_ping_timeout' }, 'MQTT broker stopped answering; reconnecting');
        this.socket?.destroy();
        return;
      }
      if (!this.pingSentAt && now - this.lastWrite >= ka / 2) {
        this.pingSentAt = now;
        this.lastWrite = now;
        this.socket?.write(PINGREQ);
      }
    }, Math.max(250, Math.min(ka / 4, 5000)));
    this.pingTimer.unref();
  }

  private onClose(socket: Socket): void {
    if (this.socket !== socket) return;
    clearTimeout(this.connectTimer);
    clearInterval(this.pingTimer);
    this.socket = undefined;
    this.pingSentAt = 0;
    this.waitingDrain = false;
    const was = this.connected;
    this.connected = false;
    // Everything unsettled fails now; none of it is sent after a reconnect.
    const err = new LinkError('connection_lost', 'connection to the broker lost');
    for (let id = 1; id <= MAX_ID; id++) {
      if (this.owners[id] !== undefined) this.freeId(id)?.fail(err);
    }
    for (const b of this.queue) b.fail(err);
    this.queue = [];
    if (was) {
      this.o.logger.warn({ event: 'mqtt_disconnected' }, 'lost the MQTT broker connection');
      this.o.onState?.(false);
    }
    if (!this.closing) this.scheduleRetry();
  }

  private scheduleRetry(): void {
    // Exponential backoff with ±20% jitter, so a fleet of servers does not reconnect in step.
    const base = Math.min(this.o.retryMaxMs, this.o.retryBaseMs * 2 ** Math.min(this.attempt, 20));
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    this.attempt++;
    this.reconnects++;
    this.o.logger.info({ event: 'mqtt_retry_scheduled', delay_ms: delay, attempt: this.attempt + 1 }, 'will retry the MQTT broker');
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  /** Publishes `last` (e.g. the offline status), disconnects cleanly, and stops retrying. */
  async close(timeoutMs: number, last?: Publish): Promise<void> {
    clearTimeout(this.retryTimer);
    if (this.connected && last) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, timeoutMs);
        this.send(
          new Batch([last], () => {
            clearTimeout(t);
            resolve();
          }, Infinity),
        );
      });
    }
    this.closing = true;
    const socket = this.socket;
    if (!socket) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        socket.destroy();
        resolve();
      }, Math.max(timeoutMs, 50));
      socket.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      if (this.connected) socket.end(DISCONNECT);
      else socket.destroy();
    });
  }
}
