import { FIELD_RULES } from '../../publish/ha-fields.js';

/**
 * Which fields feed a row's numeric key values, first found first, and so the unit of each: the
 * same table Home Assistant discovery reads (publish/ha-fields.ts), so the page and Home
 * Assistant never disagree about what a number means.
 */
export const KEY_FIELDS = {
  soc: ['Soc', 'BatteryLevel'],
  speed: ['VehicleSpeed'],
  odometer: ['Odometer'],
  range: ['RatedRange', 'EstBatteryRange', 'IdealBatteryRange'],
} as const;

export type KeyUnits = { -readonly [K in keyof typeof KEY_FIELDS]: string | null };

/** A field's unit as discovery publishes it, or null when it has none. */
export function unitOf(field: string): string | null {
  const rule = FIELD_RULES.get(field);
  return rule?.c === 'sensor' ? (rule.unit ?? null) : null;
}

/** The unit of each numeric key value (every field of one key shares it). */
function keyUnits(): KeyUnits {
  const out = {} as KeyUnits;
  for (const k of Object.keys(KEY_FIELDS) as (keyof typeof KEY_FIELDS)[]) out[k] = unitOf(KEY_FIELDS[k][0]);
  return out;
}

export const KEY_UNITS: Readonly<KeyUnits> = Object.freeze(keyUnits());
