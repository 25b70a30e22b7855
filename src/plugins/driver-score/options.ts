import { FleetTelemetryError } from '../../plugin/index.js';
/** Options of the driver-score plugin (`producers.<name>.options`), with their defaults. */
export interface ScoreOptions {
  /** Unit the vehicle reports LongitudinalAcceleration / LateralAcceleration in. */
  acceleration_unit: 'm/s2' | 'g';
  /** Harsh braking: longitudinal acceleration at or below minus this (g). */
  harsh_braking_g: number;
  /** Rapid acceleration: longitudinal acceleration at or above this (g). */
  rapid_acceleration_g: number;
  /** Harsh cornering: |lateral acceleration| at or above this (g). */
  harsh_cornering_g: number;
  /** An event ends (and the next can count) once the value is this far back inside its threshold (g). */
  hysteresis_g: number;
  /** With no known gear: a trip starts above this speed (mph, the unit of VehicleSpeed). */
  start_speed_mph: number;
  /** With no known gear: a trip ends after this long at or below start_speed_mph (s). */
  stationary_end_s: number;
  /** A trip ends when the vehicle sent nothing for this long (s). */
  silence_end_s: number;
  /** At most one derived/trip_live per vehicle per this many seconds while driving (0: every record). */
  live_interval_s: number;
  /** Vehicles whose state is kept; past it, the least recently heard from is forgotten. */
  max_vehicles: number;
  /** Score points taken per event. */
  penalty_harsh_braking: number;
  penalty_rapid_acceleration: number;
  penalty_harsh_cornering: number;
}

export const SCORE_DEFAULTS: ScoreOptions = {
  acceleration_unit: 'm/s2',
  harsh_braking_g: 0.4,
  rapid_acceleration_g: 0.4,
  harsh_cornering_g: 0.4,
  hysteresis_g: 0.1,
  start_speed_mph: 5,
  stationary_end_s: 300,
  silence_end_s: 600,
  live_interval_s: 10,
  max_vehicles: 10_000,
  penalty_harsh_braking: 5,
  penalty_rapid_acceleration: 3,
  penalty_harsh_cornering: 3,
};

/** An option the plugin cannot run with: the server does not start, naming it. */
export class ScoreOptionsError extends FleetTelemetryError {
  declare readonly code: 'driver_score_options';
  constructor(message: string, opts?: { cause?: unknown }) {
    super('driver_score_options', message, opts);
  }
}

/** Defaults filled in; an unknown key or a value out of range is an error. */
export function scoreOptions(raw: Record<string, unknown> = {}): ScoreOptions {
  const o: ScoreOptions = { ...SCORE_DEFAULTS };
  for (const [k, v] of Object.entries(raw)) {
    if (!(k in SCORE_DEFAULTS))
      throw new ScoreOptionsError(`driver-score: unknown option ${JSON.stringify(k)}; known: ${Object.keys(SCORE_DEFAULTS).join(', ')}`);
    if (k === 'acceleration_unit') {
      if (v !== 'm/s2' && v !== 'g') throw new ScoreOptionsError(`driver-score: acceleration_unit must be "m/s2" or "g", got ${JSON.stringify(v)}`);
      o.acceleration_unit = v;
      continue;
    }
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new ScoreOptionsError(`driver-score: ${k} must be a number of at least 0, got ${JSON.stringify(v)}`);
    }
    (o as unknown as Record<string, number>)[k] = v;
  }
  if (!Number.isInteger(o.max_vehicles) || o.max_vehicles < 1) throw new ScoreOptionsError('driver-score: max_vehicles must be a whole number of at least 1');
  const least = Math.min(o.harsh_braking_g, o.rapid_acceleration_g, o.harsh_cornering_g);
  if (!(o.hysteresis_g < least)) throw new ScoreOptionsError('driver-score: hysteresis_g must be below every threshold');
  if (!(o.silence_end_s > 0)) throw new ScoreOptionsError('driver-score: silence_end_s must be above 0');
  return o;
}
