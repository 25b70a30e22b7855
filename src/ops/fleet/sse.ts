import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { FleetBody, FleetSource } from './types.js';

export interface EventStreamOptions {
  maxClients?: number;
  tickMs?: number;
  keepaliveMs?: number;
  /** A client that cannot take writes for this long is dropped. */
  stalledMs?: number;
  /** Bytes a client may leave unread before its events are skipped. */
  maxBufferedBytes?: number;
}

interface Client {
  res: ServerResponse;
  vin?: string;
  /** Since when events were skipped because the client did not read (0: it reads). */
  stalledSince: number;
  /** An event was skipped: the next one is a full event. */
  missed: boolean;
}

/** Bytes a client may leave unread before events are skipped for it (a full event of 10,000 rows is ~3 MB). */
const MAX_BUFFERED = 4 * 1024 * 1024;

const frame = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

/**
 * /api/events: Server-Sent Events of the fleet view. One timer for every client: once a second a
 * delta (the rows changed since the previous tick) goes to all of them. A client that does not
 * read has its events skipped past MAX_BUFFERED (then gets a full one), so a page left open for
 * hours costs the same as a new one.
 */
export class FleetEventStreams {
  private readonly clients = new Set<Client>();
  private timer?: NodeJS.Timeout;
  private cursor = 0;
  private ticking = false;
  private lastKeepalive = 0;
  private readonly max: number;
  private readonly tickMs: number;
  private readonly keepaliveMs: number;
  private readonly stalledMs: number;
  private readonly maxBuffered: number;

  constructor(
    private readonly source: FleetSource,
    private readonly logger: Logger,
    opts: EventStreamOptions = {},
  ) {
    this.max = opts.maxClients ?? 32;
    this.tickMs = opts.tickMs ?? 1000;
    this.keepaliveMs = opts.keepaliveMs ?? 15_000;
    this.stalledMs = opts.stalledMs ?? 60_000;
    this.maxBuffered = opts.maxBufferedBytes ?? MAX_BUFFERED;
  }

  get size(): number {
    return this.clients.size;
  }

  async open(req: IncomingMessage, res: ServerResponse, vin: string | undefined): Promise<void> {
    if (this.clients.size >= this.max) {
      const body = JSON.stringify({ error: `at most ${this.max} event streams at once` }) + '\n';
      res.writeHead(503, { 'content-type': 'application/json', 'cache-control': 'no-store', 'retry-after': '10', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    const client: Client = { res, vin, stalledSince: 0, missed: false };
    this.clients.add(client);
    req.socket.setNoDelay(true);
    res.on('close', () => this.drop(client));
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write('retry: 2000\n\n');
    const first = !this.timer;
    if (first) {
      this.lastKeepalive = Date.now();
      this.timer = setInterval(() => void this.tick(), this.tickMs);
    }
    const { body, cursor } = await this.source.changes(0);
    // The shared cursor starts at the first client's snapshot; later clients may see a row twice, never miss one.
    if (first && this.clients.size === 1) this.cursor = cursor;
    await this.sendFull(client, body);
  }

  private async sendFull(c: Client, body: FleetBody): Promise<void> {
    this.write(c, frame('fleet', { ...body, full: true }));
    if (c.vin !== undefined) await this.sendVehicle(c);
  }

  private async sendVehicle(c: Client): Promise<void> {
    const d = await this.source.vehicle(c.vin!);
    if (d) this.write(c, frame('vehicle', d));
  }

  /** Writes unless the client left too much unread: then the event is skipped, never queued. */
  private write(c: Client, text: string): void {
    if (c.res.writableEnded || c.res.destroyed) return;
    if (c.res.writableLength > this.maxBuffered) {
      c.missed = true;
      c.stalledSince ||= Date.now();
      return;
    }
    c.stalledSince = 0;
    c.res.write(text);
  }

  private drop(c: Client): void {
    if (!this.clients.delete(c)) return;
    if (!c.res.writableEnded) c.res.end();
    if (this.clients.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private async tick(): Promise<void> {
    if (this.ticking || !this.clients.size) return;
    this.ticking = true;
    try {
      const { body, cursor } = await this.source.changes(this.cursor);
      this.cursor = cursor;
      const now = Date.now();
      const keepalive = now - this.lastKeepalive >= this.keepaliveMs;
      if (keepalive) this.lastKeepalive = now;
      const delta = frame('fleet', { ...body, full: false });
      const changed = new Set(body.vehicles.map((v) => v.vin));
      let full: FleetBody | undefined;
      for (const c of [...this.clients]) {
        if (c.stalledSince && now - c.stalledSince > this.stalledMs) {
          c.res.destroy();
          continue;
        }
        if (keepalive) this.write(c, ': keepalive\n\n');
        if (c.missed && c.res.writableLength <= this.maxBuffered) {
          // It read again after skipped deltas: a full event puts it right.
          c.missed = false;
          full ??= (await this.source.changes(0)).body;
          await this.sendFull(c, full);
          continue;
        }
        this.write(c, delta);
        if (c.vin !== undefined && changed.has(c.vin)) await this.sendVehicle(c);
      }
    } catch (err) {
      this.logger.warn({ event: 'fleet_events_failed', reason: (err as Error).message }, 'fleet event tick failed');
    } finally {
      this.ticking = false;
    }
  }

  /** Ends every stream (the monitoring server is closing). */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const c of [...this.clients]) this.drop(c);
  }
}
