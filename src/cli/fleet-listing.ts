/**
 * The body of GET /api/fleet on the monitoring port, as the terminal view reads it. The server
 * owns the shape; this side only checks what it draws, so an added key never breaks the view.
 */
// The server's own type: the view draws what it exports.
export type { FleetHealth } from '../ops/fleet/types.js';
import type { FleetHealth, FleetRow, KeyUnits, KeyValues } from '../ops/fleet/types.js';

/** The key values the terminal view draws; the others may be missing (an older server). */
type Drawn = 'soc' | 'speed' | 'gear' | 'charging';

/** A row as the server sends it, with the key values unchecked: the view draws whatever came. */
export type FleetVehicle = Omit<FleetRow, 'key' | 'alert_counts' | 'error_counts'> &
  Partial<Pick<FleetRow, 'alert_counts' | 'error_counts'>> & {
    key: { [K in Drawn]: unknown } & Pick<KeyValues, 'location'> & { [K in Exclude<keyof KeyValues, Drawn | 'location'>]?: unknown };
  };

/** Every vehicle of GET /api/fleet with the health figures, as the terminal view receives them. */
export interface FleetListing {
  at: number;
  health: FleetHealth;
  units?: Partial<KeyUnits>;
  vehicles: FleetVehicle[];
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Why `v` cannot be drawn as a fleet, or undefined when it can. */
export function fleetListingProblem(v: unknown): string | undefined {
  if (!isObj(v)) return 'not a JSON object';
  if (typeof v.at !== 'number') return '"at" is not a number';
  if (!isObj(v.health)) return '"health" is not an object';
  if (!Array.isArray(v.vehicles)) return '"vehicles" is not an array';
  for (const [i, row] of v.vehicles.entries()) {
    if (!isObj(row) || typeof row.vin !== 'string') return `vehicles[${i}] has no "vin"`;
    if (row.key !== undefined && row.key !== null && !isObj(row.key)) return `vehicles[${i}].key is not an object`;
  }
  return undefined;
}
