import type { Presence } from '../../publish/presence.js';

/** One open connection as presence sees it; `key` is unique across workers and restarts. */
export interface OpenConnection {
  key: string;
  vin: string;
  openedAt: number;
  /** When it handled its first frame; undefined until then. */
  activeAt?: number;
}

interface VinEntry {
  conns: Map<string, OpenConnection>;
  /** When the vehicle came online. */
  since: number;
}

export interface PresenceChange {
  vin: string;
  presence: Presence;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Connections per VIN, and the presence each open or close makes: online while any is open.
 * Every open and close changes `connections`, so each is a change worth publishing.
 */
export class PresenceBook {
  private readonly byVin = new Map<string, VinEntry>();
  private readonly byKey = new Map<string, OpenConnection>();

  opened(key: string, vin: string, at: number): PresenceChange | undefined {
    if (this.byKey.has(key)) return undefined;
    const c: OpenConnection = { key, vin, openedAt: at };
    this.byKey.set(key, c);
    let e = this.byVin.get(vin);
    if (!e) this.byVin.set(vin, (e = { conns: new Map(), since: at }));
    e.conns.set(key, c);
    return { vin, presence: { online: true, connections: e.conns.size, since: iso(e.since) } };
  }

  closed(key: string, at: number): PresenceChange | undefined {
    const c = this.byKey.get(key);
    if (!c) return undefined;
    this.byKey.delete(key);
    const e = this.byVin.get(c.vin)!;
    e.conns.delete(key);
    if (e.conns.size > 0) return { vin: c.vin, presence: { online: true, connections: e.conns.size, since: iso(e.since) } };
    this.byVin.delete(c.vin);
    return { vin: c.vin, presence: { online: false, connections: 0, since: iso(at) } };
  }

  /** The connection handled its first frame: the connections of its VIN opened before it (most likely dead). */
  active(key: string, at: number): OpenConnection[] {
    const c = this.byKey.get(key);
    if (!c || c.activeAt !== undefined) return [];
    c.activeAt = at;
    return [...this.byVin.get(c.vin)!.conns.values()].filter((o) => o !== c && o.openedAt <= c.openedAt);
  }

  /** Whether a connection of the same VIN opened after `key`'s is still open and active. */
  hasNewerActive(key: string): boolean {
    const c = this.byKey.get(key);
    if (!c) return false;
    for (const o of this.byVin.get(c.vin)!.conns.values()) if (o !== c && o.activeAt !== undefined && o.openedAt >= c.openedAt) return true;
    return false;
  }

  online(vin: string): boolean {
    return this.byVin.has(vin);
  }

  has(key: string): boolean {
    return this.byKey.has(key);
  }

  /** Keys whose owner part (before the first `/`) is `owner`: a worker's connections. */
  keysOf(owner: string): string[] {
    const head = `${owner}/`;
    return [...this.byKey.keys()].filter((k) => k.startsWith(head));
  }

  /** Vehicles online, each once however many connections it has. */
  get vehicles(): number {
    return this.byVin.size;
  }

  get connections(): number {
    return this.byKey.size;
  }
}
