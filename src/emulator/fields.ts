import type { CarModel } from './model.js';

/** A protobuf `Value` as protobufjs' fromObject takes it: exactly one member of the oneof. */
type ValueObject = Record<string, unknown>;

interface FieldSpec {
  name: string;
  value(car: CarModel, vin: string): ValueObject;
}

const round = (x: number, digits: number) => Number(x.toFixed(digits));
const dbl = (x: number, digits = 2): ValueObject => ({ double_value: round(x, digits) });

// Enum numbers of protos/vehicle_data.proto (ChargingState and DetailedChargeStateValue agree).
const CHARGE_STATE = { Disconnected: 1, Starting: 3, Charging: 4, Complete: 5, Stopped: 6 } as const;
const SHIFT_STATE = { P: 2, D: 5 } as const;

/**
 * V fields the emulator sends, most telling first: `--fields N` takes the first N. The types are
 * those vehicles use (float, double, int, bool, string, enums, location, doors, time, tires), so
 * every rendering path of the server gets traffic.
 */
export const FIELD_CATALOGUE: readonly FieldSpec[] = [
  { name: 'VehicleSpeed', value: (c) => ({ float_value: round(c.state.speedMph, 1) }) },
  { name: 'Location', value: (c) => ({ location_value: { latitude: round(c.state.latitude, 6), longitude: round(c.state.longitude, 6) } }) },
  { name: 'Gear', value: (c) => ({ shift_state_value: SHIFT_STATE[c.state.gear] }) },
  { name: 'Soc', value: (c) => dbl(c.state.soc) },
  { name: 'BatteryLevel', value: (c) => dbl(Math.max(0, c.state.soc - 1.2)) },
  { name: 'ChargeState', value: (c) => ({ charging_value: CHARGE_STATE[c.state.chargeState] }) },
  { name: 'DetailedChargeState', value: (c) => ({ detailed_charge_state_value: CHARGE_STATE[c.state.chargeState] }) },
  { name: 'ACChargingPower', value: (c) => dbl(c.state.acChargingPowerKw) },
  { name: 'Odometer', value: (c) => dbl(c.state.odometerMi, 1) },
  { name: 'GpsHeading', value: (c) => dbl(c.state.headingDeg, 1) },
  { name: 'EstBatteryRange', value: (c) => dbl(c.rangeMi * 0.92, 1) },
  { name: 'RatedRange', value: (c) => dbl(c.rangeMi, 1) },
  { name: 'PackVoltage', value: (c) => dbl(c.state.packVoltage) },
  { name: 'PackCurrent', value: (c) => dbl(c.state.packCurrent, 1) },
  { name: 'ChargeLimitSoc', value: (c) => ({ int_value: c.state.chargeLimitSoc }) },
  { name: 'TimeToFullCharge', value: (c) => dbl(c.hoursToFull) },
  { name: 'ChargerVoltage', value: (c) => dbl(c.state.chargerVoltage, 1) },
  { name: 'ChargeAmps', value: (c) => ({ int_value: c.state.chargeAmps }) },
  { name: 'ACChargingEnergyIn', value: (c) => dbl(c.state.chargeEnergyAddedKwh, 3) },
  { name: 'EnergyRemaining', value: (c) => dbl((c.state.soc / 100) * 75, 3) },
  { name: 'InsideTemp', value: (c) => ({ float_value: round(c.state.insideTempC, 1) }) },
  { name: 'OutsideTemp', value: (c) => ({ float_value: round(c.state.outsideTempC, 1) }) },
  { name: 'MinutesToArrival', value: (c) => dbl(c.state.minutesToArrival, 1) },
  { name: 'Locked', value: (c) => ({ boolean_value: c.state.locked }) },
  { name: 'FastChargerPresent', value: () => ({ boolean_value: false }) },
  {
    name: 'DoorState',
    value: () => ({ door_value: { DriverFront: false, PassengerFront: false, DriverRear: false, PassengerRear: false, TrunkFront: false, TrunkRear: false } }),
  },
  { name: 'LifetimeEnergyUsed', value: (c) => dbl(c.state.lifetimeEnergyUsedKwh, 3) },
  { name: 'TpmsPressureFl', value: (c) => dbl(2.9 + c.state.outsideTempC * 0.004, 3) },
  { name: 'TpmsPressureFr', value: (c) => dbl(2.88 + c.state.outsideTempC * 0.004, 3) },
  { name: 'TpmsPressureRl', value: (c) => dbl(2.95 + c.state.outsideTempC * 0.004, 3) },
  { name: 'TpmsPressureRr', value: (c) => dbl(2.93 + c.state.outsideTempC * 0.004, 3) },
  { name: 'TpmsHardWarnings', value: () => ({ tire_location_value: {} }) },
  { name: 'ScheduledDepartureTime', value: () => ({ time_value: { hour: 7, minute: 30, second: 0 } }) },
  { name: 'VehicleName', value: (_c, vin) => ({ string_value: `Emulated ${vin.slice(-4)}` }) },
  { name: 'Version', value: () => ({ string_value: '2024.26.7 emulator' }) },
  { name: 'LifetimeEnergyUsedDrive', value: (c) => ({ long_value: Math.floor(c.state.lifetimeEnergyUsedKwh * 1000) }) },
  // m/s² (what the driver-score plugin assumes by default).
  { name: 'LongitudinalAcceleration', value: (c) => dbl(c.state.longitudinalAccelMps2, 3) },
  { name: 'LateralAcceleration', value: (c) => dbl(c.state.lateralAccelMps2, 3) },
];

/** What a trip score needs: added to the V fields when harsh events are asked for. */
export const TRIP_FIELDS = ['VehicleSpeed', 'Gear', 'Odometer', 'Location', 'LongitudinalAcceleration', 'LateralAcceleration'] as const;

const DEFAULT_FIELD_COUNT = 8;

/**
 * The fields of each V frame: a count (the first N of the catalogue) or a list of names. A name
 * outside the catalogue is an error that lists the known ones.
 */
export function resolveFields(spec: number | readonly string[] = DEFAULT_FIELD_COUNT): FieldSpec[] {
  if (typeof spec === 'number') {
    if (!Number.isInteger(spec) || spec < 1 || spec > FIELD_CATALOGUE.length) {
      throw new RangeError(`fields must be between 1 and ${FIELD_CATALOGUE.length}, got ${spec}`);
    }
    return FIELD_CATALOGUE.slice(0, spec);
  }
  const byName = new Map(FIELD_CATALOGUE.map((f) => [f.name.toLowerCase(), f]));
  const out: FieldSpec[] = [];
  for (const name of spec) {
    const f = byName.get(name.trim().toLowerCase());
    if (!f) throw new RangeError(`unknown field ${JSON.stringify(name)}; known: ${FIELD_CATALOGUE.map((x) => x.name).join(', ')}`);
    if (!out.includes(f)) out.push(f);
  }
  if (out.length === 0) throw new RangeError('no fields given');
  return out;
}

export type { FieldSpec };
