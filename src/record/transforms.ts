import { float64Text, scientificString } from './numbers.js';

/** Field number of `Location` in telemetry.vehicle_data.Field. */
export const FIELD_LOCATION = 21;

const LOCATION = /^\(\s*(\d+(?:\.\d+)?)\s*([NS])\s*,\s*(\d+(?:\.\d+)?)\s*([EW])\s*\)$/;

/** `(37.412374 N, 122.145867 W)` → location JSON; undefined when it does not parse. */
export function locationString(s: string): string | undefined {
  const m = LOCATION.exec(s);
  if (!m) return undefined;
  const lat = Number(m[1]) * (m[2] === 'S' ? -1 : 1);
  const lon = Number(m[3]) * (m[4] === 'W' ? -1 : 1);
  return `{"latitude":${float64Text(lat)},"longitude":${float64Text(lon)}}`;
}

/** JSON text of a V string value after the transforms of docs/protocol.md §4. */
export function vStringJson(fieldKey: number, s: string): string {
  if (fieldKey === FIELD_LOCATION) {
    const loc = locationString(s);
    if (loc !== undefined) return loc;
  }
  const sci = scientificString(s);
  if (sci !== undefined) return `"${sci}"`;
  return JSON.stringify(s);
}
