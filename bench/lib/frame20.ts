import Long from 'long';
import { writeStreamFrame } from '../../src/envelope/index.js';
import { lookupType } from '../../src/record/schema.js';
import { defaultPlanOptions } from '../../src/publish/plan.js';

// The 20-field V frame of bench/decode-plan.ts and bench/alloc.ts (see bench/README.md).

export const VIN = '5YJ3E1EA7KF000001';

// A realistic mix of what a car streams: floats, ints, strings, enums, a location, doors.
export const data = [
  { key: 4, value: { float_value: 65.4 } }, // VehicleSpeed
  { key: 5, value: { float_value: 12345.678 } }, // Odometer
  { key: 6, value: { double_value: 398.25 } }, // PackVoltage
  { key: 7, value: { double_value: -12.5 } }, // PackCurrent
  { key: 8, value: { double_value: 81.25 } }, // Soc
  { key: 10, value: { shift_state_value: 5 } }, // Gear
  { key: 21, value: { location_value: { latitude: 37.412374, longitude: -122.145867 } } }, // Location
  { key: 23, value: { double_value: 271.5 } }, // GpsHeading
  { key: 42, value: { double_value: 80.5 } }, // BatteryLevel
  { key: 40, value: { double_value: 241.33 } }, // EstBatteryRange
  { key: 49, value: { int_value: 32 } }, // ChargeAmps
  { key: 58, value: { door_value: { DriverFront: true } } }, // DoorState
  { key: 59, value: { boolean_value: true } }, // Locked
  { key: 64, value: { string_value: 'Blue Thunder' } }, // VehicleName
  { key: 68, value: { string_value: '2024.14.9 2ef8e2e3c5' } }, // Version
  { key: 85, value: { float_value: 21.5 } }, // InsideTemp
  { key: 86, value: { float_value: 14.0 } }, // OutsideTemp
  { key: 102, value: { long_value: Long.fromNumber(9876543) } }, // LifetimeEnergyUsed
  { key: 179, value: { detailed_charge_state_value: 4 } }, // DetailedChargeState
  { key: 220, value: { string_value: '1.0e-3' } }, // SoftwareUpdateVersion (a string, as sent)
];

const Payload = lookupType('telemetry.vehicle_data.Payload');
export const payload = Payload.encode(Payload.fromObject({ data, created_at: { seconds: Long.fromNumber(1700000000), nanos: 0 }, vin: VIN })).finish();
export const frame = writeStreamFrame({
  txid: '3f2504e0-4f89-41d3-9a0c-0305e82c3301',
  recordType: 'V',
  payload,
  senderId: `vehicle_device.${VIN}`,
  createdAt: 1700000000,
  deviceType: 'vehicle_device',
  deviceId: VIN,
  messageId: 'm-1',
});
export const planOptions = defaultPlanOptions('telemetry');
export const FIELDS = data.length;
export const benchFrame = () => frame;
