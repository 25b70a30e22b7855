import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Cell } from './columns.js';
import { StreamRows } from './stream-rows.js';
import type { FleetSource } from './types.js';

export interface EventStreamOptions {
  maxClients?: number;
  tickMs?: number;
  keepaliveMs?: number;
  /** A client that cannot take writes for this long is dropped. */
  stalledMs?: number;
  /** Bytes a client may leave unread before its events are skipped. */
  maxBufferedBytes?: number;
  /** How long the rows are kept after the last client left, so a reload is quick. */
  keepRowsMs?: number;
}

interface Client {
  res: ServerResponse;
  vin?: string;
  /** Since when events were skipped because the client did not read (0: it reads). */
  stalledSince: number;
  /** Its next event is a full one: it is new, or events were skipped. */
  missed: boolean;
}

/** Bytes a client may leave unread before events are skipped for it (a full event of 10,000 rows is ~2.4 MB). */
const MAX_BUFFERED = 4 * 1024 * 1024;

const frame = (event: string, json: string) => `event: ${event}\ndata: ${json}\n\n`;

/**
 * /api/events: Server-Sent Events of the fleet view. One timer for every client: once a second
 * the rows changed since the previous tick become one delta for all of them (docs/fleet-api.md).
 * A new client, or one that did not read past MAX_BUFFERED, gets a full event instead, built from
 * the rows the streams already hold; a page left open for hours costs the same as a new one.
 */
export class FleetEventStreams {
  private readonly clients = new Set<Client>();
  private timer?: NodeJS.Timeout;
  private expiry?: NodeJS.Timeout;
  private rows?: StreamRows;
  /** Ticks run one after another; the timer skips while one waits. */
  private queue: Promise<void> = Promise.resolve();
  private waiting = 0;
  private lastKeepalive = 0;
  private readonly max: number;
  private readonly tickMs: number;
  private readonly keepaliveMs: number;
  private readonly stalledMs: number;
  private readonly maxBuffered: number;
  private readonly keepRowsMs: number;

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
    this.keepRowsMs = opts.keepRowsMs ?? 60_000;
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
    const client: Client = { res, vin, stalledSince: 0, missed: true };
    this.clients.add(client);
    req.socket.setNoDelay(true);
    res.on('close', () => this.drop(client));
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write('retry: 2000\n\n');
    clearTimeout(this.expiry);
    if (!this.timer) {
      this.lastKeepalive = Date.now();
      this.timer = setInterval(() => this.waiting === 0 && void this.step(), this.tickMs);
    }
    // A tick now rather than within the second: it catches up and sends this client its full event.
    await this.step();
  }

  private step(): Promise<void> {
    this.waiting++;
    this.queue = this.queue.then(() => this.tick()).finally(() => this.waiting--);
    return this.queue;
  }

  private async sendVehicle(c: Client): Promise<void> {
    const d = await this.source.vehicle(c.vin!);
    if (d) this.write(c, frame('vehicle', JSON.stringify(d)));
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
      // Kept a while, so a reload finds them; the ticks that resume then bring them up to date.
      this.expiry = setTimeout(() => (this.rows = undefined), this.keepRowsMs).unref();
    }
  }

  /** Brings the rows up to date; returns the delta entries and the VINs forgotten since. */
  private async catchUp(rows: StreamRows): Promise<{ changed: Record<string, Cell>[]; removed: string[] }> {
    const { body, cursor } = await this.source.changes(rows.cursor);
    const changed = rows.apply(body);
    rows.cursor = cursor;
    if (!rows.stale) return { changed, removed: [] };
    const all = await this.source.changes(0);
    const removed = rows.retain(all.body);
    changed.push(...rows.apply(all.body));
    rows.cursor = all.cursor;
    return { changed, removed };
  }

  private async tick(): Promise<void> {
    if (!this.clients.size) return;
    try {
      const rows = (this.rows ??= new StreamRows());
      const { changed, removed } = await this.catchUp(rows);
      const now = Date.now();
      const keepalive = now - this.lastKeepalive >= this.keepaliveMs;
      if (keepalive) this.lastKeepalive = now;
      let delta: string | undefined;
      let full: string | undefined;
      const touched = new Set(changed.map((d) => d.vin as string));
      for (const c of [...this.clients]) {
        if (c.stalledSince && now - c.stalledSince > this.stalledMs) {
          c.res.destroy();
          continue;
        }
        if (keepalive) this.write(c, ': keepalive\n\n');
        if (c.missed && c.res.writableLength <= this.maxBuffered) {
          c.missed = false;
          this.write(c, (full ??= frame('fleet', rows.full())));
          if (c.vin !== undefined) await this.sendVehicle(c);
          continue;
        }
        this.write(c, (delta ??= frame('fleet', rows.delta(changed, removed))));
        if (c.vin !== undefined && touched.has(c.vin)) await this.sendVehicle(c);
      }
    } catch (err) {
      this.logger.warn({ event: 'fleet_events_failed', reason: (err as Error).message }, 'fleet event tick failed');
    }
  }

  /** Ends every stream (the monitoring server is closing). */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    clearTimeout(this.expiry);
    this.rows = undefined;
    for (const c of [...this.clients]) this.drop(c);
  }
}
