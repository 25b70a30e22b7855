import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import Long from 'long';
import { readFrame, writeAck, writeStreamFrame } from '../src/envelope/index.js';
import { decodeRecord } from '../src/record/decode.js';
import { lookupType } from '../src/record/schema.js';
import { defaultPlanOptions, planPublishes } from '../src/publish/plan.js';

// Micro-benchmark of the per-frame hot path without the network: readFrame → decodeRecord →
// planPublishes → writeAck on one 20-field V frame. Usage:
//   node build/bench/decode-plan.js [--iterations N] [--runs R] [--warmup W] [--json]

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const ITERATIONS = arg('iterations', 50_000);
const RUNS = arg('runs', 5);
const WARMUP = arg('warmup', 20_000);
const JSON_OUT = process.argv.includes('--json');

const VIN = '5YJ3E1EA7KF000001';

// A realistic mix of what a car streams: floats, ints, strings, enums, a location, doors.
const data = [
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
const payload = Payload.encode(
  Payload.fromObject({ data, created_at: { seconds: Long.fromNumber(1700000000), nanos: 0 }, vin: VIN }),
).finish();
const frame = writeStreamFrame({
  txid: '3f2504e0-4f89-41d3-9a0c-0305e82c3301',
  recordType: 'V',
  payload,
  senderId: `vehicle_device.${VIN}`,
  createdAt: 1700000000,
  deviceType: 'vehicle_device',
  deviceId: VIN,
  messageId: 'm-1',
});
const options = defaultPlanOptions('telemetry');

let sink = 0; // keeps the work observable so nothing is optimised away

function handle(buf: Uint8Array): number {
  const r = readFrame(buf);
  if (!r.ok || !r.frame.stream) throw new Error('bench frame did not read');
  const f = r.frame;
  const record = decodeRecord(f.recordType, f.stream!.payload, VIN, f.txid);
  const publishes = planPublishes(record, options);
  const ack = writeAck(f.txidBytes, f.recordType);
  return publishes.length + ack.length;
}

const check = planPublishes(decodeRecord('V', payload, VIN, ''), options);
if (check.length !== data.length) throw new Error(`expected ${data.length} publishes, got ${check.length}`);

function run(n: number): number {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) sink += handle(frame);
  return performance.now() - t0;
}

run(WARMUP);
const times: number[] = [];
for (let r = 0; r < RUNS; r++) times.push(run(ITERATIONS));
const sorted = [...times].sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)];
const framesPerSec = (ITERATIONS / median) * 1000;
const usPerFrame = (median * 1000) / ITERATIONS;
const usPerField = usPerFrame / data.length;

const result = {
  node: process.version,
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  frameBytes: frame.length,
  fields: data.length,
  iterations: ITERATIONS,
  runs: RUNS,
  runMs: times.map((t) => Number(t.toFixed(1))),
  framesPerSec: Math.round(framesPerSec),
  usPerFrame: Number(usPerFrame.toFixed(2)),
  usPerField: Number(usPerField.toFixed(3)),
};

if (JSON_OUT) {
  console.log(JSON.stringify(result));
} else {
  console.log(`decode-plan: ${data.length}-field V frame (${frame.length} bytes), readFrame + decodeRecord + planPublishes + writeAck`);
  console.log(`node ${result.node}, ${result.cores} cores, ${result.cpu}`);
  console.log(`${RUNS} runs × ${ITERATIONS} frames after ${WARMUP} warm-up: ${result.runMs.join(', ')} ms`);
  console.log(`median: ${result.framesPerSec.toLocaleString('en-US')} frames/s, ${result.usPerFrame} µs/frame, ${result.usPerField} µs/field`);
}
if (sink === 0) console.log('');
