import type { FleetHealth, FleetRow, FleetTotals, KeyValues, StoredDetail, StoredRow, VehicleDetail } from './types.js';
import { alertSeverity } from './severity.js';
import { KEY_FIELDS } from './units.js';

/** Pure rules of the fleet view: published JSON text to the values the API shows, merging, rates. */

/** The published JSON text, parsed; null for text that is not JSON (never expected from the plan). */
export function parseJson(text: string | undefined): unknown {
  if (text === undefined) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** Location as published (`{"latitude":…,"longitude":…}`) to `{lat, lon}`. */
function locationOf(v: unknown): { lat: number; lon: number } | null {
  if (!v || typeof v !== 'object') return null;
  const lat = num((v as Record<string, unknown>).latitude);
  const lon = num((v as Record<string, unknown>).longitude);
  return lat === null || lon === null ? null : { lat, lon };
}

/**
 * The key values of a row from the latest JSON texts by field name: the numbers from KEY_FIELDS
 * (Soc else BatteryLevel, VehicleSpeed, Odometer, RatedRange else EstBatteryRange else
 * IdealBatteryRange), Gear, DetailedChargeState else ChargeState, Location, Version. Enum values
 * stay as published (e.g. "ShiftStateD").
 */
export function keyValues(json: (field: string) => string | undefined): KeyValues {
  const first = (fields: readonly string[]) => {
    for (const f of fields) {
      const v = parseJson(json(f));
      if (v !== null) return v;
    }
    return null;
  };
  return {
    soc: num(first(KEY_FIELDS.soc)),
    speed: num(first(KEY_FIELDS.speed)),
    gear: str(parseJson(json('Gear'))),
    charging: str(first(['DetailedChargeState', 'ChargeState'])),
    location: locationOf(parseJson(json('Location'))),
    odometer: num(first(KEY_FIELDS.odometer)),
    range: num(first(KEY_FIELDS.range)),
    firmware: str(parseJson(json('Version'))),
  };
}

/** The row the API shows: the internal `heard` left out. */
export function publicRow(r: StoredRow): FleetRow {
  return {
    vin: r.vin,
    name: r.name,
    connected: r.connected,
    since: r.since,
    last_frame_at: r.last_frame_at,
    frames: r.frames,
    fields: r.fields,
    key: r.key,
    trip_score: r.trip_score,
    alert_counts: r.alert_counts,
    error_counts: r.error_counts,
  };
}

/** The detail the API shows. */
export function detailBody(d: StoredDetail): VehicleDetail {
  const { fields, ...row } = publicRow(d.row);
  const alerts = d.alerts.map((a) => ({ ...a, severity: alertSeverity(a.audiences) }));
  return { ...row, fields_total: fields, fields_dropped: d.fields_dropped, fields: d.fields, alerts, errors: d.errors };
}

/** Which of two rows of one VIN is newer: a connected one, then the one heard from last. */
function newer(a: StoredRow, b: StoredRow): StoredRow {
  if (a.connected !== b.connected) return a.connected ? a : b;
  return b.heard > a.heard ? b : a;
}

/**
 * One VIN known to several workers (it moved, or reconnected elsewhere): the newest row wins,
 * its frames and fields are the sums, and a key value missing from it is taken from the others.
 */
export function mergeRows(rows: StoredRow[]): StoredRow {
  let best = rows[0];
  for (let i = 1; i < rows.length; i++) best = newer(best, rows[i]);
  if (rows.length === 1) return best;
  const out: StoredRow = { ...best, key: { ...best.key }, frames: 0, fields: 0 };
  let lastFrame: number | null = null;
  for (const r of rows) {
    out.frames += r.frames;
    out.fields += r.fields;
    if (r.last_frame_at !== null && (lastFrame === null || r.last_frame_at > lastFrame)) lastFrame = r.last_frame_at;
  }
  out.last_frame_at = lastFrame;
  const byAge = [...rows].sort((a, b) => b.heard - a.heard);
  for (const k of Object.keys(out.key) as (keyof KeyValues)[]) {
    if (out.key[k] !== null) continue;
    const from = byAge.find((r) => r.key[k] !== null);
    if (from) (out.key as unknown as Record<string, unknown>)[k] = from.key[k];
  }
  out.name ??= byAge.find((r) => r.name !== null)?.name ?? null;
  out.trip_score ??= byAge.find((r) => r.trip_score !== null)?.trip_score ?? null;
  return out;
}

/** Sums of several processes' totals; the broker is connected only if every process's is. */
export function sumTotals(all: FleetTotals[]): FleetTotals {
  const out: FleetTotals = {
    frames_acked_total: 0,
    frames_unanswered_total: 0,
    frames_error_total: 0,
    fields_total: 0,
    records_in_flight: 0,
    broker_connected: null,
  };
  for (const t of all) {
    out.frames_acked_total += t.frames_acked_total;
    out.frames_unanswered_total += t.frames_unanswered_total;
    out.frames_error_total += t.frames_error_total;
    out.fields_total += t.fields_total;
    out.records_in_flight += t.records_in_flight;
    if (t.broker_connected !== null) out.broker_connected = (out.broker_connected ?? true) && t.broker_connected;
  }
  return out;
}

interface Sample {
  at: number;
  frames: number;
  fields: number;
}

/**
 * Frames/s and fields/s over the last ~5 s from totals sampled whenever health is asked for (the
 * event streams ask every second). At most a handful of samples are kept.
 */
export class RateWindow {
  private readonly samples: Sample[] = [];

  constructor(private readonly spanMs = 5000) {}

  rates(now: number, frames: number, fields: number): { frames_per_s: number; fields_per_s: number } {
    const s = this.samples;
    const last = s[s.length - 1];
    // Totals that went down (a worker restarted) start the window over.
    if (last && (frames < last.frames || fields < last.fields)) s.length = 0;
    if (!s.length || now - s[s.length - 1].at >= 900) s.push({ at: now, frames, fields });
    while (s.length > 2 && s[1].at <= now - this.spanMs) s.shift();
    const base = s[0];
    const dt = (now - base.at) / 1000;
    if (dt <= 0) return { frames_per_s: 0, fields_per_s: 0 };
    const round = (v: number) => Math.round(v * 10) / 10;
    return { frames_per_s: round((frames - base.frames) / dt), fields_per_s: round((fields - base.fields) / dt) };
  }
}

export function healthOf(
  totals: FleetTotals,
  counts: { connected: number; known: number },
  ready: boolean,
  workers: number,
  rate: RateWindow,
  now: number,
): FleetHealth {
  const frames = totals.frames_acked_total + totals.frames_unanswered_total + totals.frames_error_total;
  return {
    vehicles_connected: counts.connected,
    vehicles_known: counts.known,
    ...rate.rates(now, frames, totals.fields_total),
    frames_acked_total: totals.frames_acked_total,
    frames_unanswered_total: totals.frames_unanswered_total,
    frames_error_total: totals.frames_error_total,
    broker_connected: totals.broker_connected,
    ready,
    records_in_flight: totals.records_in_flight,
    workers,
  };
}
