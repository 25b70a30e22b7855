import { createClient, createCluster } from '@redis/client';
import type { Logger } from 'pino';
import { Backoff, backoffDelay } from '../../backoff.js';
import type { DispatchTally } from '../dispatch/tally.js';
import type { RedisEndpoint } from './options.js';

/** The commands the producer uses, as both a single client and a cluster client have them. */
interface Commands {
  publish(channel: string, message: Buffer): Promise<unknown>;
  zRemRangeByScore(key: string, min: string, max: string): Promise<unknown>;
  zRange(key: string, start: number, stop: number): Promise<string[]>;
  close(): Promise<void>;
  destroy(): void;
}

/** Waits between connection attempts: 100 ms doubling to 5 s, ±20 %, so a restarted Redis is found again within seconds. */
const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 5000;

/**
 * The producer's connection to Redis: one client (or one cluster client, with a connection per
 * node) that pipelines every command, never queues a command while disconnected (it fails at
 * once, so a record is refused instead of held), and reconnects on its own. `up` is whether
 * commands can be sent now.
 */
export class RedisLink {
  private client?: Commands;
  private closed = false;
  private connectedOnce = false;
  private ready = false;
  /** Cluster nodes whose connection is down now ("host:port"). */
  private readonly downNodes = new Set<string>();
  private retryTimer?: NodeJS.Timeout;
  private readonly backoff = new Backoff(RETRY_FIRST_MS, RETRY_MAX_MS);

  constructor(
    private readonly ep: RedisEndpoint,
    private readonly log: Logger,
    private readonly tally: DispatchTally,
  ) {}

  get up(): boolean {
    return this.ready && this.downNodes.size === 0;
  }

  get commands(): Commands {
    if (!this.client) throw new Error('not started');
    return this.client;
  }

  start(): void {
    void this.connect();
  }

  private reconnectStrategy = (retries: number): number | false => (this.closed ? false : backoffDelay(retries, RETRY_FIRST_MS, RETRY_MAX_MS));

  private make(): Commands & { connect(): Promise<unknown>; on(event: string, f: (...a: unknown[]) => void): unknown } {
    const ep = this.ep;
    const socket = (node?: { host: string; port: number }) => ({
      ...(node ?? {}),
      connectTimeout: 10_000,
      reconnectStrategy: this.reconnectStrategy,
      ...(ep.tls ? { tls: true as const, ...ep.tls } : {}),
    });
    const common = { username: ep.username, password: ep.password, disableOfflineQueue: true };
    if (!ep.cluster) {
      const c = createClient({ ...common, database: ep.database, socket: socket(ep.nodes[0]) });
      c.on('ready', () => this.setReady(true));
      c.on('end', () => this.setReady(false));
      c.on('reconnecting', () => {
        this.tally.reconnects++;
        this.setReady(false);
      });
      c.on('error', (err: Error) => this.onError(err));
      return c;
    }
    const c = createCluster({
      rootNodes: ep.nodes.map((n) => ({ socket: socket(n) })),
      defaults: { ...common, socket: socket() },
      useReplicas: false,
    });
    const key = (info: unknown) => {
      const i = info as { host?: string; port?: number };
      return `${i.host}:${i.port}`;
    };
    c.on('node-ready', (info: unknown) => {
      this.downNodes.delete(key(info));
      this.logState();
    });
    c.on('node-disconnect', (info: unknown) => {
      this.downNodes.add(key(info));
      this.logState();
    });
    c.on('node-reconnecting', (info: unknown) => {
      this.tally.reconnects++;
      this.downNodes.add(key(info));
      this.logState();
    });
    c.on('node-error', (err: Error) => this.onError(err));
    c.on('error', (err: Error) => this.onError(err));
    return c;
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const c = this.make();
    this.client = c;
    try {
      await c.connect();
      if (this.ep.cluster) this.setReady(true);
      this.backoff.reset();
    } catch (err) {
      this.onError(err as Error);
      c.destroy();
      if (this.closed) return;
      this.retryTimer = setTimeout(() => void this.connect(), this.backoff.next());
    }
  }

  private lastLogged?: boolean;
  private lastError?: string;

  private setReady(ready: boolean): void {
    this.ready = ready;
    if (ready) this.connectedOnce = true;
    this.logState();
  }

  /** One line per change of state, not per error: a Redis that stays down must not flood the log. */
  private logState(): void {
    const up = this.up;
    if (up === this.lastLogged) return;
    this.lastLogged = up;
    const nodes = this.ep.nodes.map((n) => `${n.host}:${n.port}`).join(',');
    if (up) this.log.info({ event: 'redis_connected', nodes, cluster: this.ep.cluster }, 'connected to Redis');
    else if (this.connectedOnce)
      this.log.warn(
        { event: 'redis_disconnected', nodes, reason: this.lastError },
        'Redis connection lost: records routed to redis are refused until it is back',
      );
  }

  private onError(err: Error): void {
    const msg = err?.message ?? String(err);
    if (msg === this.lastError) return;
    this.lastError = msg;
    this.log.warn({ event: 'redis_error', err: msg }, 'Redis error');
  }

  async close(timeoutMs: number): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    const c = this.client;
    if (!c) return;
    // Replies still due get a moment; then the connection is cut.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([c.close().catch(() => {}), new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    try {
      c.destroy();
    } catch {
      // already closed
    }
    this.ready = false;
  }
}
