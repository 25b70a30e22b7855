import { alertInstant } from '../../record/timestamp.js';
import type { Alert, Instant, VehicleErrorEntry } from '../../record/types.js';
import type { AlertView, ErrorView, FieldView, StoredDetail, StoredRow } from './types.js';
import { countAlerts, countErrors } from './severity.js';
import { keyValues, parseJson } from './view.js';

/** What the store reads of a connection (a VehicleSession); counted by the session itself. */
export interface SessionLike {
  readonly info: { vin: string };
  readonly connectedAt: number;
  readonly frames: number;
  readonly fields: number;
  readonly lastFrameAt: number;
}

/** Field keys below this are found through a per-vehicle index; the schema's go up to ~260. */
const INDEXED_KEYS = 320;
/** Latest alerts and errors kept per vehicle, by name; the oldest name goes first. */
const MAX_ALERTS = 16;
const MAX_ERRORS = 16;

function instantMs(t: Instant | undefined): number | null {
  if (!t) return null;
  const ms = Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6);
  return Number.isFinite(ms) ? ms : null;
}

function keepLatest<V>(m: Map<string, V>, name: string, v: V, max: number): void {
  // Re-inserted so the Map's order is "least recently updated first".
  m.delete(name);
  m.set(name, v);
  if (m.size > max) m.delete(m.keys().next().value as string);
}

/**
 * One vehicle's latest state. Field values live in parallel arrays (name, published JSON text,
 * arrival time) found by field key through a small index, so a datum costs two array writes once
 * its slot exists: no object per field, the JSON text kept as the plan made it.
 */
export class VehicleEntry {
  readonly names: string[] = [];
  readonly jsons: string[] = [];
  readonly ats: number[] = [];
  private index?: Uint16Array;
  /** Connections open now (usually one; two while a reconnect overlaps the old connection). */
  readonly live: SessionLike[] = [];
  /** Frames and fields of this VIN's closed connections. */
  closedFrames = 0;
  closedFields = 0;
  closedLastFrame = 0;
  /** Connected at, or disconnected at. */
  since: number;
  /** Last heard from: frame, record, connect or disconnect. */
  heard: number;
  /** The store's sequence number at this entry's last change. */
  changed = 0;
  tripScore: number | null = null;
  /** Fields not kept: first seen past max_fields_per_vehicle. */
  fieldsDropped = 0;
  alerts?: Map<string, AlertView>;
  errors?: Map<string, ErrorView>;
  /** Counts last seen by sync(), to notice frames that changed nothing else. */
  seenFrames = 0;
  seenFields = 0;

  constructor(
    readonly vin: string,
    now: number,
  ) {
    this.since = now;
    this.heard = now;
  }

  get connected(): boolean {
    return this.live.length > 0;
  }

  /** Sets a field's latest value; false when it is new and the vehicle has no room left. */
  setField(key: number, name: string, json: string, at: number, max: number): boolean {
    let slot: number;
    if (key >= 0 && key < INDEXED_KEYS) {
      const index = (this.index ??= new Uint16Array(INDEXED_KEYS));
      slot = index[key] - 1;
      if (slot < 0 && this.names.length < max) {
        slot = this.names.length;
        index[key] = slot + 1;
        this.names.push(name);
        this.jsons.push(json);
        this.ats.push(at);
        return true;
      }
    } else {
      slot = this.names.indexOf(name);
      if (slot < 0 && this.names.length < max) {
        this.names.push(name);
        this.jsons.push(json);
        this.ats.push(at);
        return true;
      }
    }
    if (slot < 0) {
      this.fieldsDropped++;
      return false;
    }
    this.jsons[slot] = json;
    this.ats[slot] = at;
    return true;
  }

  json(name: string): string | undefined {
    const i = this.names.indexOf(name);
    return i < 0 ? undefined : this.jsons[i];
  }

  setAlerts(alerts: Alert[]): void {
    const m = (this.alerts ??= new Map<string, AlertView>());
    for (const a of alerts) {
      keepLatest(
        m,
        a.name,
        {
          name: a.name,
          audiences: a.audiences,
          started_at: instantMs(a.startedAt && alertInstant(a.startedAt)),
          ended_at: instantMs(a.endedAt && alertInstant(a.endedAt)),
        },
        MAX_ALERTS,
      );
    }
  }

  setErrors(errors: VehicleErrorEntry[], now: number): void {
    const m = (this.errors ??= new Map<string, ErrorView>());
    for (const e of errors) keepLatest(m, e.name, { name: e.name, body: e.body, at: instantMs(e.createdAt) ?? now }, MAX_ERRORS);
  }

  frames(): number {
    let n = this.closedFrames;
    for (const s of this.live) n += s.frames;
    return n;
  }

  fields(): number {
    let n = this.closedFields;
    for (const s of this.live) n += s.fields;
    return n;
  }

  lastFrame(): number {
    let t = this.closedLastFrame;
    for (const s of this.live) if (s.lastFrameAt > t) t = s.lastFrameAt;
    return t;
  }

  row(): StoredRow {
    const name = parseJson(this.json('VehicleName'));
    const last = this.lastFrame();
    return {
      vin: this.vin,
      name: typeof name === 'string' ? name : null,
      connected: this.connected,
      since: this.since,
      last_frame_at: last || null,
      frames: this.frames(),
      fields: this.fields(),
      key: keyValues((f) => this.json(f)),
      trip_score: this.tripScore,
      alert_counts: countAlerts(this.alerts?.values() ?? []),
      error_counts: countErrors(this.errors?.values() ?? []),
      heard: this.heard,
    };
  }

  detail(): StoredDetail {
    const fields: FieldView[] = this.names.map((name, i) => ({ name, value: parseJson(this.jsons[i]), at: this.ats[i] }));
    fields.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return {
      row: this.row(),
      fields,
      alerts: [...(this.alerts?.values() ?? [])],
      errors: [...(this.errors?.values() ?? [])],
      fields_dropped: this.fieldsDropped,
    };
  }
}
