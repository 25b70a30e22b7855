import type { ScoreOptions } from './options.js';

/** Event counts of a trip and whether each kind is in an event now (not re-armed yet). */
export interface EventState {
  harshBraking: number;
  rapidAcceleration: number;
  harshCornering: number;
  braking: boolean;
  accelerating: boolean;
  cornering: boolean;
}

export const noEvents = (): EventState => ({ harshBraking: 0, rapidAcceleration: 0, harshCornering: 0, braking: false, accelerating: false, cornering: false });

/**
 * Counts one event per crossing: a value at or past the threshold counts once, and the next
 * can count only after the value came back inside by hysteresis_g. Values in g.
 */
export function countEvents(e: EventState, longG: number | undefined, latG: number | undefined, o: ScoreOptions): void {
  const h = o.hysteresis_g;
  if (longG !== undefined) {
    if (!e.braking && longG <= -o.harsh_braking_g) {
      e.braking = true;
      e.harshBraking++;
    } else if (e.braking && longG > -o.harsh_braking_g + h) e.braking = false;
    if (!e.accelerating && longG >= o.rapid_acceleration_g) {
      e.accelerating = true;
      e.rapidAcceleration++;
    } else if (e.accelerating && longG < o.rapid_acceleration_g - h) e.accelerating = false;
  }
  if (latG !== undefined) {
    const m = Math.abs(latG);
    if (!e.cornering && m >= o.harsh_cornering_g) {
      e.cornering = true;
      e.harshCornering++;
    } else if (e.cornering && m < o.harsh_cornering_g - h) e.cornering = false;
  }
}

/**
 * The trip's safety score: 100 minus each event count times its penalty, clamped to 0..100
 * and rounded to a whole number.
 */
export function scoreOf(e: Pick<EventState, 'harshBraking' | 'rapidAcceleration' | 'harshCornering'>, o: ScoreOptions): number {
  const s = 100 - e.harshBraking * o.penalty_harsh_braking - e.rapidAcceleration * o.penalty_rapid_acceleration - e.harshCornering * o.penalty_harsh_cornering;
  return Math.round(Math.min(100, Math.max(0, s)));
}
