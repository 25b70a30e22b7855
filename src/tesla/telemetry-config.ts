/**
 * The body of the Fleet API's fleet_telemetry_config request for this server: which fields a
 * vehicle streams and how often, validated against the schema's Field enum.
 */
import { editDistance } from '../config/errors.js';
import { lookupEnum } from '../record/schema.js';

export interface FieldInterval {
  interval_seconds: number;
}

export interface FleetTelemetryConfigBody {
  vins: string[];
  config: {
    hostname: string;
    port: number;
    ca: string;
    exp: number;
    fields: Record<string, FieldInterval>;
    alert_types?: string[];
    prefer_typed?: boolean;
    delivery_policy?: 'latest';
  };
}

/** Named field sets, each field with an interval that suits what it is used for. */
const PRESETS: Record<string, Record<string, number>> = {
  minimal: {
    BatteryLevel: 300,
    ChargeState: 60,
    Gear: 60,
    Locked: 300,
    Location: 300,
    Odometer: 600,
    VehicleSpeed: 60,
  },
  charging: {
    ACChargingEnergyIn: 60,
    ACChargingPower: 30,
    BatteryLevel: 60,
    ChargeAmps: 60,
    ChargeLimitSoc: 300,
    ChargePortDoorOpen: 60,
    ChargePortLatch: 60,
    ChargeState: 30,
    ChargerPhases: 300,
    ChargerVoltage: 60,
    DCChargingEnergyIn: 60,
    DCChargingPower: 30,
    DetailedChargeState: 30,
    EnergyRemaining: 60,
    EstBatteryRange: 300,
    FastChargerPresent: 60,
    RatedRange: 300,
    Soc: 60,
    TimeToFullCharge: 60,
  },
  driving: {
    BatteryLevel: 60,
    DestinationName: 60,
    EnergyRemaining: 60,
    Gear: 10,
    GpsHeading: 10,
    InsideTemp: 300,
    Location: 10,
    MilesToArrival: 60,
    MinutesToArrival: 60,
    Odometer: 60,
    OutsideTemp: 300,
    VehicleSpeed: 10,
  },
};

/** The interval of every field in the `all` preset. */
const ALL_INTERVAL = 60;

export const PRESET_NAMES = [...Object.keys(PRESETS), 'all'];

/** Every Field name of the schema except `Unknown`, in enum order. */
function fieldNames(): string[] {
  const e = lookupEnum('telemetry.vehicle_data.Field');
  return Object.entries(e.values)
    .sort((a, b) => a[1] - b[1])
    .map(([n]) => n)
    .filter((n) => n !== 'Unknown');
}

function presetFields(name: string): Record<string, number> {
  if (name === 'all') return Object.fromEntries(fieldNames().map((n) => [n, ALL_INTERVAL]));
  const p = PRESETS[name];
  if (!p) throw new Error(`unknown preset ${JSON.stringify(name)}; presets: ${PRESET_NAMES.join(', ')}`);
  return { ...p };
}

/** Up to three Field names close to `name` (case, typos, a part of the name). */
function didYouMean(name: string, names = fieldNames()): string[] {
  const lower = name.toLowerCase();
  const exact = names.filter((n) => n.toLowerCase() === lower);
  if (exact.length) return exact;
  const scored = names
    .map((n) => ({ n, d: editDistance(name, n) }))
    .filter(({ n, d }) => d <= Math.max(2, Math.floor(n.length / 4)) || (lower.length >= 4 && n.toLowerCase().includes(lower)))
    .sort((a, b) => a.d - b.d || a.n.localeCompare(b.n));
  return scored.slice(0, 3).map((s) => s.n);
}

/** `Name:seconds` flags on top of a preset; each problem is one sentence. */
export function resolveFields(preset: string | undefined, flags: string[]): { fields: Record<string, FieldInterval>; problems: string[] } {
  const problems: string[] = [];
  let chosen: Record<string, number> = {};
  if (preset !== undefined) {
    try {
      chosen = presetFields(preset);
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  const known = new Set(fieldNames());
  for (const f of flags) {
    const m = /^([^:]+):(.+)$/.exec(f);
    if (!m) {
      problems.push(`--field ${f}: write Name:seconds, e.g. VehicleSpeed:10`);
      continue;
    }
    const [, name, secs] = m;
    if (!known.has(name)) {
      const near = didYouMean(name);
      problems.push(`--field ${f}: ${name} is not a Field of the vehicle schema${near.length ? `; did you mean ${near.join(', ')}?` : ''}`);
      continue;
    }
    const n = Number(secs);
    if (!Number.isInteger(n) || n < 1) {
      problems.push(`--field ${f}: the interval must be a whole number of seconds, at least 1`);
      continue;
    }
    chosen[name] = n;
  }
  const fields = Object.fromEntries(Object.entries(chosen).map(([n, s]) => [n, { interval_seconds: s }]));
  return { fields, problems };
}

/** `exp` of the request: epoch seconds, from a date (ISO 8601 or epoch seconds) or days ahead. */
export function expiry(exp: string | undefined, days: string | undefined, now = Date.now()): { exp?: number; problem?: string } {
  if (exp !== undefined && days !== undefined) return { problem: 'give --exp or --days, not both' };
  if (exp !== undefined) {
    const t = /^\d+$/.test(exp) ? Number(exp) * 1000 : Date.parse(exp);
    if (Number.isNaN(t)) return { problem: `--exp ${exp}: not a date (write 2027-06-30, 2027-06-30T12:00:00Z or epoch seconds)` };
    if (t <= now) return { problem: `--exp ${exp}: that is in the past` };
    return { exp: Math.floor(t / 1000) };
  }
  const d = days === undefined ? 365 : Number(days);
  if (!(d > 0) || !Number.isFinite(d)) return { problem: `--days ${days}: must be a positive number` };
  return { exp: Math.floor(now / 1000 + d * 86400) };
}
