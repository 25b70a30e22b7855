import type { VehicleRecord } from '../../record/types.js';
import type { StoredDetail, StoredRow } from './types.js';
import { VehicleEntry, type SessionLike } from './vehicle.js';

export interface FleetStoreOptions {
  max_vehicles: number;
  max_fields_per_vehicle: number;
  /** Clock, for tests. */
  now?: () => number;
}

/**
 * Every vehicle seen since start (connected or not) with its latest values, bounded in vehicles
 * and fields per vehicle. Fed by the server's events on the per-record path: it only writes into
 * arrays there; JSON is parsed when the view is read. A sequence number per change lets readers
 * (the event streams, the primary over its workers) ask for the rows changed since their cursor.
 */
export class FleetStore {
  private readonly byVin = new Map<string, VehicleEntry>();
  private seq = 0;
  private disconnected = 0;
  /** Vehicles not kept because every kept one was connected. */
  untracked = 0;
  /** Identifies this store across processes: a restarted worker has a new one. */
  readonly epoch = `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
  private readonly now: () => number;

  constructor(private readonly opts: FleetStoreOptions) {
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.byVin.size;
  }

  counts(): { connected: number; known: number } {
    return { connected: this.byVin.size - this.disconnected, known: this.byVin.size };
  }

  /** The entry of `vin`, made when new; undefined when the store is full of connected vehicles. */
  private entry(vin: string, now: number): VehicleEntry | undefined {
    const e = this.byVin.get(vin);
    if (e) return e;
    if (this.byVin.size >= this.opts.max_vehicles && !this.evictOne()) {
      this.untracked++;
      return undefined;
    }
    const made = new VehicleEntry(vin, now);
    this.byVin.set(vin, made);
    // Counted as disconnected until a connection is added.
    this.disconnected++;
    return made;
  }

  /** Forgets the disconnected vehicle heard from longest ago; false when there is none. */
  private evictOne(): boolean {
    if (this.disconnected === 0) return false;
    let oldest: VehicleEntry | undefined;
    for (const e of this.byVin.values()) if (!e.connected && (!oldest || e.heard < oldest.heard)) oldest = e;
    if (!oldest) return false;
    this.byVin.delete(oldest.vin);
    this.disconnected--;
    return true;
  }

  private touch(e: VehicleEntry, now: number): void {
    e.heard = now;
    e.changed = ++this.seq;
  }

  vehicleConnected(s: SessionLike): void {
    const now = this.now();
    const e = this.entry(s.info.vin, now);
    if (!e) return;
    if (!e.connected) {
      this.disconnected--;
      e.since = s.connectedAt;
    }
    e.live.push(s);
    this.touch(e, now);
  }

  vehicleDisconnected(s: SessionLike): void {
    const e = this.byVin.get(s.info.vin);
    const i = e ? e.live.indexOf(s) : -1;
    if (!e || i < 0) return;
    e.live.splice(i, 1);
    e.closedFrames += s.frames;
    e.closedFields += s.fields;
    if (s.lastFrameAt > e.closedLastFrame) e.closedLastFrame = s.lastFrameAt;
    const now = this.now();
    if (!e.connected) {
      this.disconnected++;
      e.since = now;
    }
    this.touch(e, now);
  }

  /** A record every producer took (the frame was acked): its values become the latest. */
  recordAcked(r: VehicleRecord): void {
    const now = this.now();
    const e = this.byVin.get(r.vin) ?? this.entry(r.vin, now);
    if (!e) return;
    switch (r.type) {
      case 'V': {
        const max = this.opts.max_fields_per_vehicle;
        const data = r.data;
        for (let i = 0; i < data.length; i++) {
          const d = data[i];
          e.setField(d.key, d.name, d.json, now, max);
        }
        break;
      }
      case 'alerts':
        e.setAlerts(r.alerts);
        break;
      case 'errors':
        e.setErrors(r.errors, now);
        break;
      default:
        return;
    }
    this.touch(e, now);
  }

  /**
   * A record the server derived from a vehicle's fields (issue #24). A "trip" with a numeric
   * `score` sets the row's trip_score; other names are ignored for now.
   */
  noteDerived(vin: string, name: string, value: unknown): void {
    if (name !== 'trip') return;
    const score = (value as { score?: unknown } | null)?.score;
    if (typeof score !== 'number' || !Number.isFinite(score)) return;
    const e = this.byVin.get(vin);
    if (!e) return;
    e.tripScore = score;
    this.touch(e, this.now());
  }

  /**
   * Notices frames counted by the sessions since the last look (a frame that was not acked
   * changes only the counts), so such rows count as changed too. Runs when the view is read.
   */
  private sync(): void {
    for (const e of this.byVin.values()) {
      if (!e.connected) continue;
      const frames = e.frames();
      const fields = e.fields();
      if (frames === e.seenFrames && fields === e.seenFields) continue;
      e.seenFrames = frames;
      e.seenFields = fields;
      const last = e.lastFrame();
      if (last > e.heard) e.heard = last;
      e.changed = ++this.seq;
    }
  }

  /** Rows changed after cursor `since` (0: all), sorted by VIN, and the cursor to ask from next. */
  changes(since: number): { rows: StoredRow[]; cursor: number } {
    this.sync();
    const rows: StoredRow[] = [];
    for (const e of this.byVin.values()) if (e.changed > since) rows.push(e.row());
    rows.sort((a, b) => (a.vin < b.vin ? -1 : a.vin > b.vin ? 1 : 0));
    return { rows, cursor: this.seq };
  }

  detail(vin: string): StoredDetail | undefined {
    return this.byVin.get(vin)?.detail();
  }
}
