import type { FleetRow, IssueCounts } from './types.js';

/**
 * The rows of /api/events in columns (docs/fleet-api.md, "Event streams"): a full event sends
 * each row as an array of these, a delta only the columns that changed. At 10,000 vehicles this
 * halves the full event against rows as objects, and a second in which every vehicle sent a frame
 * becomes the three or four columns that moved instead of whole rows.
 */
export const EVENT_COLUMNS = [
  'vin',
  'name',
  'connected',
  'since',
  'last_frame_at',
  'frames',
  'fields',
  'soc',
  'speed',
  'gear',
  'charging',
  'location',
  'odometer',
  'range',
  'firmware',
  'trip_score',
  'alert_counts',
  'error_counts',
] as const;

/** A cell: a JSON scalar, `[lat, lon]`, or counts as `[fault, warning, info]`. */
export type Cell = string | number | boolean | null | readonly number[];

const counts = (c: IssueCounts): readonly number[] => [c.fault, c.warning, c.info];

/** A row as its cells, in EVENT_COLUMNS order. */
export function rowCells(r: FleetRow): Cell[] {
  const k = r.key;
  return [
    r.vin,
    r.name,
    r.connected,
    r.since,
    r.last_frame_at,
    r.frames,
    r.fields,
    k.soc,
    k.speed,
    k.gear,
    k.charging,
    k.location && [k.location.lat, k.location.lon],
    k.odometer,
    k.range,
    k.firmware,
    r.trip_score,
    counts(r.alert_counts),
    counts(r.error_counts),
  ];
}

function sameCell(a: Cell, b: Cell): boolean {
  if (a === b) return true;
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** `{vin, <column>: cell…}` for the columns of `next` that differ from `prev`; undefined when none does. */
export function changedCells(prev: readonly Cell[], next: readonly Cell[]): Record<string, Cell> | undefined {
  let out: Record<string, Cell> | undefined;
  for (let i = 1; i < next.length; i++) {
    if (sameCell(prev[i], next[i])) continue;
    out ??= { vin: next[0] };
    out[EVENT_COLUMNS[i]] = next[i];
  }
  return out;
}

/** Every column of a row, as a delta names a vehicle the stream had not sent before. */
export function allCells(cells: readonly Cell[]): Record<string, Cell> {
  const out: Record<string, Cell> = {};
  for (let i = 0; i < cells.length; i++) out[EVENT_COLUMNS[i]] = cells[i];
  return out;
}
