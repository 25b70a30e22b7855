import Long from 'long';
import type protobuf from 'protobufjs';
import { lookupEnum, lookupType } from '../../src/record/schema.js';

type Value = Record<string, unknown>;

/**
 * What a driving car streams in one V record: floats, doubles, ints, a long, strings, enums
 * (gear, charge state, sentry), a location and doors. The first 20 are the micro-benchmark's
 * mix (bench/decode-plan.ts), so the two benches price the same frame.
 */
const REALISTIC: [string, Value][] = [
  ['VehicleSpeed', { float_value: 65.4 }],
  ['Odometer', { float_value: 12345.678 }],
  ['PackVoltage', { double_value: 398.25 }],
  ['PackCurrent', { double_value: -12.5 }],
  ['Soc', { double_value: 81.25 }],
  ['Gear', { shift_state_value: 5 }],
  ['Location', { location_value: { latitude: 37.412374, longitude: -122.145867 } }],
  ['GpsHeading', { double_value: 271.5 }],
  ['BatteryLevel', { double_value: 80.5 }],
  ['EstBatteryRange', { double_value: 241.33 }],
  ['ChargeAmps', { int_value: 32 }],
  ['DoorState', { door_value: { DriverFront: true } }],
  ['Locked', { boolean_value: true }],
  ['VehicleName', { string_value: 'Blue Thunder' }],
  ['Version', { string_value: '2024.14.9 2ef8e2e3c5' }],
  ['InsideTemp', { float_value: 21.5 }],
  ['OutsideTemp', { float_value: 14.0 }],
  ['LifetimeEnergyUsed', { long_value: Long.fromNumber(9876543) }],
  ['DetailedChargeState', { detailed_charge_state_value: 4 }],
  ['SoftwareUpdateVersion', { string_value: '1.0e-3' }],
  // Beyond 20: more of the same kinds.
  ['TpmsPressureFl', { double_value: 2.875 }],
  ['TpmsPressureFr', { double_value: 2.9 }],
  ['TpmsPressureRl', { double_value: 2.85 }],
  ['TpmsPressureRr', { double_value: 2.825 }],
  ['LateralAcceleration', { double_value: 0.0123 }],
  ['LongitudinalAcceleration', { double_value: -0.25 }],
  ['CruiseSetSpeed', { double_value: 70 }],
  ['RatedRange', { double_value: 250.1 }],
  ['ChargeLimitSoc', { int_value: 90 }],
  ['SentryMode', { sentry_mode_state_value: 3 }],
  ['ChargeState', { charging_value: 4 }],
  ['DestinationLocation', { location_value: { latitude: 37.7749, longitude: -122.4194 } }],
  ['MinutesToArrival', { double_value: 12.5 }],
  ['MilesToArrival', { double_value: 8.25 }],
  ['ExteriorColor', { string_value: 'MidnightSilver' }],
  ['ModuleTempMax', { double_value: 31.5 }],
  ['ModuleTempMin', { double_value: 28.0 }],
  ['BrickVoltageMax', { double_value: 4.112 }],
  ['BrickVoltageMin', { double_value: 4.096 }],
  ['DCChargingPower', { double_value: 0 }],
];

const FIELD_ENUM = 'telemetry.vehicle_data.Field';

/** The first `n` datums; past the realistic list, other fields of the schema as doubles. */
export function benchData(n: number): { key: number; value: Value }[] {
  const ids = lookupEnum(FIELD_ENUM).values;
  const out: { key: number; value: Value }[] = [];
  const used = new Set<number>();
  for (const [name, value] of REALISTIC) {
    if (out.length >= n) break;
    const key = ids[name];
    if (key === undefined) throw new Error(`field ${name} is not in the schema`);
    used.add(key);
    out.push({ key, value });
  }
  // Distinct keys only: the server publishes a repeated field once.
  for (const key of Object.values(ids).sort((a, b) => a - b)) {
    if (out.length >= n) break;
    if (key === 0 || used.has(key)) continue;
    used.add(key);
    out.push({ key, value: { double_value: 100 + key / 8 } });
  }
  if (out.length < n) throw new Error(`--fields at most ${out.length} (distinct fields of the schema)`);
  return out;
}

/** The protobuf V payload of one vehicle's frame. */
export function vPayloadBytes(vin: string, fields: number): Uint8Array {
  const Payload: protobuf.Type = lookupType('telemetry.vehicle_data.Payload');
  return Payload.encode(Payload.fromObject({ data: benchData(fields), created_at: { seconds: Long.fromNumber(1700000000), nanos: 0 }, vin })).finish();
}
