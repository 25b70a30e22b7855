import type { VRecord } from '../../plugin/index.js';

/** Standard gravity: m/s² per g. */
export const G = 9.80665;

export type Gear = 'P' | 'R' | 'N' | 'D';

/** What one V record says about driving; a field the record lacks is undefined. */
export interface Sample {
  /** When it was measured (ms since the epoch): the record's created_at, else arrival. */
  t: number;
  gear?: Gear;
  speedMph?: number;
  odometerMi?: number;
  lat?: number;
  lon?: number;
  /** Longitudinal acceleration in g (+ forward). */
  longG?: number;
  /** Lateral acceleration in g. */
  latG?: number;
}

const GEARS: Record<string, Gear> = { ShiftStateP: 'P', ShiftStateR: 'R', ShiftStateN: 'N', ShiftStateD: 'D' };

/** A number from a field's JSON: a number, or a string holding one (cars send both); else undefined. */
function num(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

function parse(json: string): unknown {
  try {
    return JSON.parse(json);
  } catch {
    return undefined;
  }
}

/**
 * The fields the score needs, read from the record's JSON values (docs/protocol.md §6.1: numbers, enum names, the
 * location object). Only these few fields are parsed. `unit` is what the vehicle reports
 * accelerations in; the sample holds g.
 */
export function sampleOf(r: VRecord, unit: 'm/s2' | 'g', now: number): Sample {
  const c = r.createdAt;
  const t = c && c.seconds > 0n ? Number(c.seconds) * 1000 + Math.floor(c.nanos / 1e6) : now;
  const s: Sample = { t };
  const toG = unit === 'g' ? 1 : 1 / G;
  for (const d of r.data) {
    switch (d.name) {
      case 'Gear': {
        const g = parse(d.json);
        if (typeof g === 'string' && g in GEARS) s.gear = GEARS[g];
        break;
      }
      case 'VehicleSpeed':
        s.speedMph = num(parse(d.json));
        break;
      case 'Odometer':
        s.odometerMi = num(parse(d.json));
        break;
      case 'Location': {
        const l = parse(d.json) as { latitude?: unknown; longitude?: unknown } | null;
        const lat = num(l?.latitude);
        const lon = num(l?.longitude);
        if (lat !== undefined && lon !== undefined && Math.abs(lat) <= 90 && Math.abs(lon) <= 180) {
          s.lat = lat;
          s.lon = lon;
        }
        break;
      }
      case 'LongitudinalAcceleration': {
        const a = num(parse(d.json));
        if (a !== undefined) s.longG = a * toG;
        break;
      }
      case 'LateralAcceleration': {
        const a = num(parse(d.json));
        if (a !== undefined) s.latG = a * toG;
        break;
      }
    }
  }
  return s;
}

const EARTH_RADIUS_MI = 3958.7613;

/** Great-circle distance in miles (haversine). */
export function haversineMi(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLon = (lon2 - lon1) * rad;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_MI * Math.asin(Math.min(1, Math.sqrt(a)));
}
