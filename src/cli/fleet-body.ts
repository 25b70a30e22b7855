/**
 * The body of GET /api/fleet on the monitoring port, as the terminal view reads it. The server
 * owns the shape; this side only checks what it draws, so an added key never breaks the view.
 */
export interface FleetHealth {
  vehicles_connected: number;
  vehicles_known: number;
  frames_per_s: number;
  fields_per_s: number;
  frames_acked_total: number;
  frames_unanswered_total: number;
  frames_error_total: number;
  /** null: no MQTT producer. */
  broker_connected: boolean | null;
  ready: boolean;
  records_in_flight: number;
  workers: number;
}

export interface FleetVehicle {
  vin: string;
  name: string | null;
  connected: boolean;
  since: number;
  last_frame_at: number | null;
  frames: number;
  fields: number;
  key: {
    soc: unknown;
    speed: unknown;
    gear: unknown;
    charging: unknown;
    location: { lat: number; lon: number } | null;
  };
  trip_score: number | null;
}

export interface FleetBody {
  at: number;
  health: FleetHealth;
  vehicles: FleetVehicle[];
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Why `v` cannot be drawn as a fleet, or undefined when it can. */
export function fleetBodyProblem(v: unknown): string | undefined {
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
