import t from 'tap';
import Long from 'long';
import protobuf from 'protobufjs';
import { decodeRecord } from '../src/record/decode.js';
import { lookupEnum, lookupType } from '../src/record/schema.js';
import { defaultPlanOptions, planPublishes } from '../src/publish/plan.js';
import type { VRecord } from '../src/record/types.js';
import { canonicalJson } from './helpers/fixtures.js';

// Contract §6 (V values) and §4 (V transforms), one rule at a time, through decodeRecord and the
// publish plan. Payloads are encoded with protobufjs from the loaded schema.

const VIN = '5YJ3E1EA7KF000001';
const Payload = lookupType('telemetry.vehicle_data.Payload');
const Field = lookupEnum('telemetry.vehicle_data.Field').values;

type ValueInit = Record<string, unknown>;

function encode(data: { key: number; value?: ValueInit }[]): Uint8Array {
  return Payload.encode(Payload.fromObject({ data })).finish();
}

function decodeV(data: { key: number; value?: ValueInit }[]): VRecord {
  return decodeRecord('V', encode(data), VIN, 'tx') as VRecord;
}

/** The `<v>` text one Value becomes, under the given Field. */
function jsonOf(value: ValueInit | undefined, key = Field.VehicleSpeed): string {
  const r = decodeV([{ key, value }]);
  if (r.data.length !== 1) throw new Error(`expected one datum, got ${r.data.length}`);
  return r.data[0].json;
}

/** The `v/` publish of one Value, as a subscriber sees it with the default payload format. */
function publishOf(value: ValueInit | undefined, key = Field.VehicleSpeed): { topic: string; payload: string } {
  const ps = planPublishes(decodeV([{ key, value }]), defaultPlanOptions('T'));
  if (ps.length !== 1) throw new Error(`expected one publish, got ${ps.length}`);
  return ps[0];
}

const same = (a: string, b: string) => canonicalJson(a) === canonicalJson(b);

t.test('string_value: a JSON string', async (t) => {
  t.equal(jsonOf({ string_value: 'Blue Thunder' }, Field.VehicleName), '"Blue Thunder"');
  t.equal(JSON.parse(jsonOf({ string_value: 'quote " back \\ nl \n ü 🚗' }, Field.VehicleName)), 'quote " back \\ nl \n ü 🚗');
  t.equal(jsonOf({ string_value: '' }, Field.VehicleName), '""');
  t.equal(jsonOf({ string_value: '2023.44.30' }, Field.Version), '"2023.44.30"', 'not a number');
  t.equal(publishOf({ string_value: 'x' }, Field.VehicleName).payload, '{"value":"x"}');
});

t.test('int_value: integer, negatives exact', async (t) => {
  t.equal(jsonOf({ int_value: 32 }, Field.ChargeAmps), '32');
  t.equal(jsonOf({ int_value: 0 }, Field.ChargeAmps), '0');
  t.equal(jsonOf({ int_value: -5 }, Field.ChargeAmps), '-5', 'negative int32 (ten-byte varint)');
  t.equal(jsonOf({ int_value: 2147483647 }), '2147483647');
  t.equal(jsonOf({ int_value: -2147483648 }), '-2147483648');
});

t.test('long_value: every digit exact, beyond 2^53 and negative', async (t) => {
  const long = (s: string) => jsonOf({ long_value: Long.fromString(s) }, Field.Odometer);
  t.equal(long('9007199254740993'), '9007199254740993', '2^53 + 1');
  t.equal(long('9007199254740992'), '9007199254740992');
  t.equal(long('12345678901234567'), '12345678901234567');
  t.equal(long('-1'), '-1');
  t.equal(long('-9007199254740993'), '-9007199254740993');
  t.equal(long('9223372036854775807'), '9223372036854775807');
  t.equal(long('-9223372036854775808'), '-9223372036854775808');
  t.equal(long('0'), '0');
  t.equal(long('4294967296'), '4294967296', '2^32');
  t.equal(long('-4294967296'), '-4294967296');
  t.equal(publishOf({ long_value: Long.fromString('9223372036854775807') }).payload, '{"value":9223372036854775807}', 'raw digits in the payload');
});

t.test('float_value: shortest decimal of the 32-bit float', async (t) => {
  const f = (n: number) => jsonOf({ float_value: n });
  t.equal(f(65.4), '65.4', 'not 65.40000152587891');
  t.equal(f(0.1), '0.1');
  t.equal(f(12345.678), '12345.678');
  t.equal(f(81.25), '81.25');
  t.equal(f(-40.5), '-40.5');
  t.equal(f(0), '0');
  t.equal(f(1), '1');
  t.equal(f(3.4028235e38), '3.4028235e+38', 'largest float, exponent form');
  t.equal(f(1e-7), '1e-7', 'exponent below 1e-6');
  t.equal(f(1e-6), '0.000001');
  t.equal(f(1e21), '1e+21', 'exponent from 1e21 up');
  t.equal(f(1e20), '100000000000000000000');
  t.equal(f(1.4e-45), '1e-45', 'smallest subnormal');
  t.equal(f(16777217), '16777216', 'rounded to float first');
  t.equal(f(1234.21875), '1234.2188', 'two shortest candidates: the even one');
  t.equal(f(-7802.65625), '-7802.6562', 'ties to even, negative');
  t.equal(f(2 ** -96), '1.2621775e-29', 'power of two: shortest on the wide side');
  t.equal(f(NaN), 'null', 'NaN');
  t.equal(f(Infinity), 'null', '+Inf');
  t.equal(f(-Infinity), 'null', '-Inf');
  t.equal(publishOf({ float_value: NaN }).payload, '{"value":null}');
  t.equal(publishOf({ float_value: 65.4 }).payload, '{"value":65.4}');
});

t.test('double_value: shortest decimal of the double', async (t) => {
  const d = (n: number) => jsonOf({ double_value: n });
  t.equal(d(0.1), '0.1');
  t.equal(d(65.4), '65.4');
  t.equal(d(Math.fround(65.4)), '65.4000015258789', 'a float widened to double keeps its digits');
  t.equal(d(123456789.123456), '123456789.123456');
  t.equal(d(-2.5), '-2.5');
  t.equal(d(1e-7), '1e-7');
  t.equal(d(1.7976931348623157e308), '1.7976931348623157e+308');
  t.equal(d(5e-324), '5e-324');
  t.equal(d(1e21), '1e+21');
  t.equal(d(2 ** 53 + 1), '9007199254740992', 'a double, not an integer type');
  t.equal(d(NaN), 'null');
  t.equal(d(Infinity), 'null');
  t.equal(d(-Infinity), 'null');
});

t.test('boolean_value', async (t) => {
  t.equal(jsonOf({ boolean_value: true }, Field.Locked), 'true');
  t.equal(jsonOf({ boolean_value: false }, Field.Locked), 'false');
  t.equal(publishOf({ boolean_value: true }, Field.Locked).payload, '{"value":true}');
});

t.test('location_value', async (t) => {
  const j = jsonOf({ location_value: { latitude: 37.412374, longitude: -122.145867 } }, Field.Location);
  t.ok(same(j, '{"latitude":37.412374,"longitude":-122.145867}'), j);
  t.same(Object.keys(JSON.parse(j)).sort(), ['latitude', 'longitude']);
  const zero = jsonOf({ location_value: {} }, Field.Location);
  t.ok(same(zero, '{"latitude":0,"longitude":0}'), 'absent coordinates are 0');
  const d = jsonOf({ location_value: { latitude: -33.8688, longitude: 151.2093 } }, Field.DestinationLocation);
  t.ok(same(d, '{"latitude":-33.8688,"longitude":151.2093}'), 'on another field too');
});

t.test('invalid, or no member set: null', async (t) => {
  t.equal(jsonOf({ invalid: true }), 'null', 'invalid = true');
  t.equal(jsonOf({ invalid: false }), 'null', 'invalid = false (still the member on the wire)');
  t.equal(jsonOf({}), 'null', 'empty Value');
  t.equal(jsonOf(undefined), 'null', 'Datum without a Value');
  t.equal(publishOf({}).payload, '{"value":null}');
});

t.test('enums: the value name, unknown numbers as decimal strings', async (t) => {
  t.equal(jsonOf({ shift_state_value: 5 }, Field.Gear), '"ShiftStateD"');
  t.equal(jsonOf({ shift_state_value: 0 }, Field.Gear), '"ShiftStateUnknown"', 'zero is a name too');
  t.equal(jsonOf({ shift_state_value: 42 }, Field.Gear), '"42"', 'unknown number');
  t.equal(jsonOf({ shift_state_value: -3 }, Field.Gear), '"-3"', 'negative unknown number');
  t.equal(jsonOf({ detailed_charge_state_value: 4 }, Field.DetailedChargeState), '"DetailedChargeStateCharging"');
  t.equal(publishOf({ shift_state_value: 42 }, Field.Gear).payload, '{"value":"42"}');

  // Every enum member of Value, every name it has.
  const value = lookupType('telemetry.vehicle_data.Value');
  let members = 0;
  let names = 0;
  for (const f of value.fieldsArray) {
    f.resolve();
    if (!(f.resolvedType instanceof protobuf.Enum)) continue;
    members++;
    for (const [name, n] of Object.entries(f.resolvedType.values)) {
      const got = jsonOf({ [f.name]: n });
      if (got !== JSON.stringify(name)) t.fail(`${f.name} ${n}: ${got}`);
      else names++;
    }
    t.equal(jsonOf({ [f.name]: 1000 }), '"1000"', `${f.name}: unknown number`);
  }
  t.ok(members >= 40, `${members} enum members`);
  t.ok(names > 200, `${names} enum names render`);
});

t.test('door_value: all six booleans', async (t) => {
  const doors = ['DriverFront', 'PassengerFront', 'DriverRear', 'PassengerRear', 'TrunkFront', 'TrunkRear'];
  const all = JSON.parse(jsonOf({ door_value: { DriverFront: true, TrunkRear: true } }, Field.DoorState));
  t.same(Object.keys(all).sort(), [...doors].sort());
  t.same(all, { DriverFront: true, PassengerFront: false, DriverRear: false, PassengerRear: false, TrunkFront: false, TrunkRear: true });
  t.same(JSON.parse(jsonOf({ door_value: {} }, Field.DoorState)), Object.fromEntries(doors.map((d) => [d, false])), 'all closed');
  for (const d of doors) {
    const one = JSON.parse(jsonOf({ door_value: { [d]: true } }, Field.DoorState));
    t.same(
      Object.entries(one)
        .filter(([, v]) => v === true)
        .map(([k]) => k),
      [d],
      `${d} alone`,
    );
    t.same(
      Object.values(one).every((v) => typeof v === 'boolean'),
      true,
    );
  }
});

t.test('time_value: "HH:MM:SS", zero padded', async (t) => {
  t.equal(jsonOf({ time_value: { hour: 7, minute: 5, second: 9 } }, Field.ScheduledChargingStartTime), '"07:05:09"');
  t.equal(jsonOf({ time_value: { hour: 23, minute: 59, second: 59 } }), '"23:59:59"');
  t.equal(jsonOf({ time_value: { hour: 12 } }), '"12:00:00"', 'absent parts are 00');
  t.equal(jsonOf({ time_value: {} }), '"00:00:00"');
  t.equal(jsonOf({ time_value: { hour: 0, minute: 10, second: 0 } }), '"00:10:00"');
});

t.test('tire_location_value: all ten booleans', async (t) => {
  const tires = [
    'front_left',
    'front_right',
    'rear_left',
    'rear_right',
    'semi_middle_axle_left_2',
    'semi_middle_axle_right_2',
    'semi_rear_axle_left',
    'semi_rear_axle_right',
    'semi_rear_axle_left_2',
    'semi_rear_axle_right_2',
  ];
  const got = JSON.parse(jsonOf({ tire_location_value: { front_left: true, semi_rear_axle_right_2: true } }, Field.TpmsHardWarnings));
  t.same(Object.keys(got).sort(), [...tires].sort(), 'ten keys named as in the schema');
  t.same(got, Object.fromEntries(tires.map((k) => [k, k === 'front_left' || k === 'semi_rear_axle_right_2'])));
  t.same(JSON.parse(jsonOf({ tire_location_value: {} })), Object.fromEntries(tires.map((k) => [k, false])), 'none set: all false');
});

t.test('§4 Location string becomes a location', async (t) => {
  const loc = (s: string, key = Field.Location) => jsonOf({ string_value: s }, key);
  t.ok(same(loc('(37.412374 N, 122.145867 W)'), '{"latitude":37.412374,"longitude":-122.145867}'), 'N and W');
  t.ok(same(loc('(33.8688 S, 151.2093 E)'), '{"latitude":-33.8688,"longitude":151.2093}'), 'S and E');
  t.ok(same(loc('(0 N, 0 E)'), '{"latitude":0,"longitude":0}'), 'integers');
  t.ok(same(loc('(51.5 N, 0.1275 W)'), '{"latitude":51.5,"longitude":-0.1275}'));
  t.equal(loc('somewhere'), '"somewhere"', 'a string that does not parse stays a string');
  t.equal(loc('(37.4 X, 122.1 W)'), '"(37.4 X, 122.1 W)"', 'bad hemisphere');
  t.equal(loc('37.4 N, 122.1 W'), '"37.4 N, 122.1 W"', 'no parentheses');
  t.equal(loc(''), '""');
  t.equal(loc('(37.4 N, 122.1 W)', Field.VehicleName), '"(37.4 N, 122.1 W)"', 'only the Location field');
  t.equal(publishOf({ string_value: '(1.5 S, 2.5 W)' }, Field.Location).payload, '{"value":{"latitude":-1.5,"longitude":-2.5}}');
});

t.test('§4 scientific strings: float32 to exactly five decimals', async (t) => {
  const sci = (s: string) => jsonOf({ string_value: s }, Field.BatteryLevel);
  t.equal(sci('5.0e-3'), '"0.00500"');
  t.equal(sci('1.5625e-2'), '"0.01562"', 'a tie rounds to even (down)');
  t.equal(sci('4.6875e-2'), '"0.04688"', 'a tie rounds to even (up)');
  t.equal(sci('1.0e22'), '"9999999778196308361216.00000"', 'the float, exactly, no exponent');
  t.equal(sci('3.4028235e38'), '"340282346638528859811704183484516925440.00000"', 'largest float');
  t.equal(sci('1.0e-3'), '"0.00100"');
  t.equal(sci('2.5E+1'), '"25.00000"', 'upper-case E and a + exponent');
  t.equal(sci('+2.5e1'), '"25.00000"', 'leading +');
  t.equal(sci('.5e1'), '"5.00000"', 'no integer digits');
  t.equal(sci('5.e0'), '"5.00000"', 'no fraction digits');
  t.equal(sci('1.23456789e2'), '"123.45679"', 'float rounding, then five decimals');
  t.equal(sci('-5.0e-3'), '"-0.00500"', 'negative');
  t.equal(sci('-1.5e2'), '"-150.00000"');
  t.equal(sci('1.67772170000000000000001e7'), '"16777218.00000"', 'rounded once to float (not via double)');
  t.equal(sci('1.6777217e7'), '"16777216.00000"', 'exact midpoint: to even');
  t.equal(sci('1e-3'), '"1e-3"', 'no decimal point: stays');
  t.equal(sci('1.0e39'), '"1.0e39"', 'outside the float range: stays');
  t.equal(sci('-1.0e39'), '"-1.0e39"');
  t.equal(
    sci('3.40282356779733661637539395458142568448e38'),
    '"3.40282356779733661637539395458142568448e38"',
    'exactly half past the largest float rounds out of range',
  );
  t.equal(sci('3.40282356779733661637539395458142568447e38'), '"340282346638528859811704183484516925440.00000"', 'just under it: the largest float');
  t.equal(sci('1.0e400'), '"1.0e400"');
  t.equal(sci('1.5'), '"1.5"', 'no exponent: stays');
  t.equal(sci('1.5e'), '"1.5e"');
  t.equal(sci(' 1.5e2'), '" 1.5e2"', 'surrounding space: stays');
  t.equal(sci('1.5e2x'), '"1.5e2x"');
  t.equal(sci('0x1.5e2'), '"0x1.5e2"');
  t.equal(jsonOf({ string_value: '2.5e1' }, Field.Odometer), '"25.00000"', 'any V field');
  t.equal(publishOf({ string_value: '5.0e-3' }, Field.BatteryLevel).payload, '{"value":"0.00500"}');
});
