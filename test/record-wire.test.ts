import t from 'tap';
import { DecodeError, decodeRecord } from '../src/record/decode.js';
import { lookupType } from '../src/record/schema.js';
import type { VRecord } from '../src/record/types.js';
import { utf8 } from '../src/record/wire.js';

// Wire-level cases a protobuf library would not produce on purpose: several oneof members in one
// Value, unknown fields, wrong wire types, truncation. Built with a tiny writer of our own.

/** Protobuf wire bytes, built field by field. */
class W {
  private out: number[] = [];
  varint(v: number | bigint): this {
    let n = BigInt.asUintN(64, BigInt(v));
    do {
      const b = Number(n & 0x7fn);
      n >>= 7n;
      this.out.push(n ? b | 0x80 : b);
    } while (n);
    return this;
  }
  tag(id: number, wt: number): this {
    return this.varint((id << 3) | wt);
  }
  uint(id: number, v: number | bigint): this {
    return this.tag(id, 0).varint(v);
  }
  f32(id: number, v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.tag(id, 5).out.push(...b);
    return this;
  }
  f64(id: number, v: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, true);
    this.tag(id, 1).out.push(...b);
    return this;
  }
  bytes(id: number, v: Uint8Array | W | string): this {
    const b = typeof v === 'string' ? new TextEncoder().encode(v) : v instanceof W ? v.done() : v;
    this.tag(id, 2)
      .varint(b.length)
      .out.push(...b);
    return this;
  }
  raw(...b: number[]): this {
    this.out.push(...b);
    return this;
  }
  done(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

const VIN = 'VIN1';
const SPEED = 4;
const LOCATION = 21;
const DOORS = 58;

/** Value member numbers (telemetry.vehicle_data.Value). */
const V = { string: 1, int: 2, long: 3, float: 4, double: 5, bool: 6, location: 7, shift: 9, invalid: 10, door: 21, time: 31 };

const datum = (key: number, ...values: W[]) => {
  const d = new W().uint(1, key);
  for (const v of values) d.bytes(2, v);
  return d;
};
const payload = (...data: W[]) => {
  const p = new W();
  for (const d of data) p.bytes(1, d);
  return p.done();
};
const decodeV = (buf: Uint8Array) => decodeRecord('V', buf, VIN, 'tx') as VRecord;
const one = (buf: Uint8Array) => {
  const r = decodeV(buf);
  if (r.data.length !== 1) throw new Error(`expected one datum, got ${r.data.length}`);
  return r.data[0].json;
};

t.test('sanity: our writer agrees with protobufjs', async (t) => {
  const mine = payload(datum(SPEED, new W().f32(V.float, 65.4)));
  const theirs = lookupType('telemetry.vehicle_data.Payload')
    .encode({ data: [{ key: SPEED, value: { float_value: 65.4 } }] })
    .finish();
  t.same([...mine], [...theirs]);
  t.equal(one(mine), '65.4');
});

t.test('two oneof members in one Value: the last on the wire wins', async (t) => {
  t.equal(one(payload(datum(SPEED, new W().f32(V.float, 1.5).bytes(V.string, 'abc')))), '"abc"', 'float then string');
  t.equal(one(payload(datum(SPEED, new W().bytes(V.string, 'abc').f32(V.float, 1.5)))), '1.5', 'string then float');
  t.equal(one(payload(datum(SPEED, new W().uint(V.int, 7).uint(V.shift, 5)))), '"ShiftStateD"', 'int then enum');
  t.equal(one(payload(datum(SPEED, new W().uint(V.shift, 5).uint(V.int, 7)))), '7', 'enum then int');
  t.equal(one(payload(datum(SPEED, new W().f64(V.double, 2.5).uint(V.invalid, 1)))), 'null', 'then invalid');
  t.equal(one(payload(datum(SPEED, new W().uint(V.invalid, 1).uint(V.bool, 1)))), 'true', 'invalid then bool');
  t.equal(one(payload(datum(LOCATION, new W().bytes(V.location, new W().f64(1, 1).f64(2, 2)).bytes(V.string, 'x')))), '"x"', 'location then string');
  t.equal(one(payload(datum(SPEED, new W().f32(V.float, 1).f32(V.float, 2)))), '2', 'the same member twice: the last value');
  // Two Value fields in one Datum are one Value, merged, as protobuf merges a repeated message.
  t.equal(one(payload(datum(SPEED, new W().f32(V.float, 1), new W().bytes(V.string, 'late')))), '"late"', 'across two Value fields');
  t.same(
    JSON.parse(one(payload(datum(DOORS, new W().bytes(V.door, new W().uint(1, 1)), new W().bytes(V.door, new W().uint(6, 1)))))),
    { DriverFront: true, PassengerFront: false, DriverRear: false, PassengerRear: false, TrunkFront: false, TrunkRear: true },
    'a message member given twice merges',
  );
  t.same(
    JSON.parse(one(payload(datum(DOORS, new W().bytes(V.door, new W().uint(1, 1)).bytes(V.string, 's').bytes(V.door, new W().uint(6, 1)))))),
    { DriverFront: false, PassengerFront: false, DriverRear: false, PassengerRear: false, TrunkFront: false, TrunkRear: true },
    'another member in between clears it',
  );
  t.equal(one(payload(datum(SPEED, new W().bytes(V.time, new W().uint(1, 9)).bytes(V.time, new W().uint(2, 8))))), '"09:08:00"');
});

t.test('a field that repeats in a message: the last value', async (t) => {
  t.equal(one(payload(new W().uint(1, 99).uint(1, SPEED).bytes(2, new W().f32(V.float, 3)))), '3');
  const r = decodeV(payload(new W().bytes(2, new W().f32(V.float, 3)).uint(1, SPEED)));
  t.equal(r.data[0].name, 'VehicleSpeed', 'key after the value');
  t.equal(r.data[0].json, '3');
  t.same(JSON.parse(one(payload(datum(LOCATION, new W().bytes(V.location, new W().f64(1, 1).f64(1, 5).f64(2, 2)))))), { latitude: 5, longitude: 2 });
});

t.test('unknown fields are skipped, whatever their wire type', async (t) => {
  const unknowns = (w: W, base: number) =>
    w
      .uint(base, 123456789)
      .f32(base + 1, 1)
      .f64(base + 2, 2)
      .bytes(base + 3, 'junk');
  const buf = unknowns(new W(), 9)
    .bytes(1, unknowns(new W(), 5).uint(1, SPEED).bytes(2, unknowns(new W(), 99).f32(V.float, 65.4)))
    .bytes(1, unknowns(new W().uint(1, DOORS), 5).bytes(2, new W().bytes(V.door, unknowns(new W(), 7).uint(1, 1))))
    .bytes(1, new W().uint(1, 44).bytes(2, new W().bytes(V.time, unknowns(new W(), 4).uint(1, 6).uint(2, 30))))
    .done();
  const r = decodeV(buf);
  t.same(
    r.data.map((d) => [d.name, d.json]),
    [
      ['VehicleSpeed', '65.4'],
      ['DoorState', '{"DriverFront":true,"PassengerFront":false,"DriverRear":false,"PassengerRear":false,"TrunkFront":false,"TrunkRear":false}'],
      ['ScheduledChargingStartTime', '"06:30:00"'],
    ],
  );
  t.equal(one(payload(datum(SPEED, new W().uint(77, 1)))), 'null', 'a Value with only an unknown member has no member');
  t.equal(one(payload(datum(SPEED, new W().uint(V.float, 5)))), 'null', 'a known member with the wrong wire type is skipped');
  t.equal(one(payload(datum(SPEED, new W().f32(V.float, 2).uint(V.float, 5)))), '2', 'and does not clear the member before it');
  t.equal(one(payload(datum(SPEED, new W().bytes(V.int, 'x')))), 'null');
  t.equal(decodeV(payload(new W().uint(1, 1))).data.length, 1, 'a Datum with a wrong-typed key still counts');
});

t.test('keys: unknown and out-of-range Field numbers', async (t) => {
  const name = (key: number | bigint) => decodeV(payload(new W().uint(1, key).bytes(2, new W().uint(V.bool, 1)))).data[0].name;
  t.equal(name(0), 'Unknown');
  t.equal(name(4), 'VehicleSpeed');
  t.equal(name(300), '300', 'a number the schema does not know');
  t.equal(name(2 ** 31 - 1), '2147483647');
  t.equal(name(-1), '-1', 'negative (ten-byte varint)');
  t.equal(decodeV(payload(new W().bytes(2, new W().uint(V.bool, 1)))).data[0].name, 'Unknown', 'no key: field 0');
});

t.test('varints at the edges', async (t) => {
  t.equal(one(payload(datum(SPEED, new W().uint(V.long, -1n)))), '-1');
  t.equal(one(payload(datum(SPEED, new W().uint(V.long, 2n ** 63n)))), '-9223372036854775808');
  t.equal(one(payload(datum(SPEED, new W().uint(V.long, 2n ** 64n - 2n)))), '-2');
  t.equal(one(payload(datum(SPEED, new W().uint(V.int, 2n ** 32n + 5n)))), '5', 'int32 keeps the low 32 bits');
  t.equal(one(payload(datum(SPEED, new W().uint(V.bool, 2n ** 40n)))), 'true', 'any non-zero bool is true');
  // A padded (non-minimal) varint is still valid protobuf.
  t.equal(one(payload(datum(SPEED, new W().tag(V.int, 0).raw(0x85, 0x80, 0x80, 0x00)))), '5');
});

t.test('created_at of the Payload', async (t) => {
  const r = decodeV(new W().bytes(2, new W().uint(1, 1700000000).uint(2, 5)).done());
  t.same(r.createdAt, { seconds: 1700000000n, nanos: 5 });
  t.equal(r.data.length, 0);
  t.same(
    decodeV(new Uint8Array(0)),
    { type: 'V', vin: VIN, txid: 'tx', payload: new Uint8Array(0), data: [], createdAt: undefined },
    'an empty payload is an empty record',
  );
});

function throwsDecodeError(t: { ok(v: unknown, m: string): boolean; fail(m: string): boolean }, type: string, buf: Uint8Array, msg: string) {
  try {
    decodeRecord(type, buf, VIN, 'tx');
    t.fail(`${msg}: decoded`);
  } catch (err) {
    t.ok(err instanceof DecodeError && err.code === 'undecodable_payload', msg);
  }
}

t.test('truncated or malformed payloads: DecodeError', async (t) => {
  const good = payload(
    datum(SPEED, new W().f32(V.float, 65.4)),
    datum(LOCATION, new W().bytes(V.location, new W().f64(1, 1).f64(2, 2))),
    datum(64, new W().bytes(V.string, 'name')),
  );
  t.equal(decodeV(good).data.length, 3);
  throwsDecodeError(t, 'V', good.subarray(0, good.length - 1), 'last byte cut');
  throwsDecodeError(t, 'V', good.subarray(0, 1), 'tag only');
  throwsDecodeError(t, 'V', Uint8Array.from([0x0a, 0x05, 0x08]), 'length past the end');
  throwsDecodeError(t, 'V', Uint8Array.from([0x0a]), 'length missing');
  throwsDecodeError(t, 'V', Uint8Array.from([0x08, 0x80]), 'varint cut');
  throwsDecodeError(t, 'V', Uint8Array.from([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), 'varint over ten bytes');
  throwsDecodeError(t, 'V', payload(datum(SPEED, new W().tag(V.float, 5).raw(1, 2))), 'fixed32 cut inside a Value');
  throwsDecodeError(t, 'V', payload(datum(SPEED, new W().tag(V.double, 1).raw(1, 2, 3))), 'fixed64 cut inside a Value');
  throwsDecodeError(t, 'V', Uint8Array.from([0x0f]), 'wire type 7');
  throwsDecodeError(t, 'V', Uint8Array.from([0x0e]), 'wire type 6');
  throwsDecodeError(t, 'V', Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), 'length 2^32-1');
  throwsDecodeError(t, 'V', Uint8Array.from([0x0a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), 'length beyond 32 bits');
  // A Datum of 2 bytes whose Value claims 5: the bytes after the Datum are not the Value's.
  throwsDecodeError(t, 'V', Uint8Array.from([0x0a, 0x02, 0x12, 0x05, 0x08, 0x01, 0x08, 0x01, 0x08]), 'inner length past its parent');

  // Cut at every length: each either decodes or is a DecodeError, nothing else.
  let errors = 0;
  let decoded = 0;
  for (let n = 0; n < good.length; n++) {
    try {
      decodeV(good.subarray(0, n));
      decoded++;
    } catch (err) {
      if (err instanceof DecodeError) errors++;
      else t.fail(`cut at ${n}: ${(err as Error).message}`);
    }
  }
  t.equal(errors + decoded, good.length);
  t.ok(errors > good.length / 2, `${errors} cuts refused, ${decoded} at a field boundary decoded`);

  for (const type of ['alerts', 'errors', 'connectivity']) {
    throwsDecodeError(t, type, Uint8Array.from([0x0a, 0x05, 0x08]), `${type}: length past the end`);
    throwsDecodeError(t, type, Uint8Array.from([0x0f]), `${type}: wire type 7`);
    throwsDecodeError(t, type, Uint8Array.from([0x08, 0x80]), `${type}: varint cut`);
  }
  throwsDecodeError(t, 'metrics', new Uint8Array(0), 'unknown record type');
  throwsDecodeError(t, 'v', new Uint8Array(0), 'record types are case-sensitive');
});

t.test('record payload bytes are kept and the VIN is the caller’s', async (t) => {
  const buf = new W()
    .bytes(3, 'EVIL-VIN')
    .bytes(1, datum(SPEED, new W().f32(V.float, 1)))
    .done();
  const r = decodeV(buf);
  t.equal(r.vin, VIN, 'Payload.vin plays no part');
  t.equal(r.payload, buf);
  t.equal(r.txid, 'tx');
});

t.test('utf8: every length class and byte mix decodes as TextDecoder does, from views at any offset', (t) => {
  const reference = new TextDecoder('utf-8');
  const ascii = (n: number) => Array.from({ length: n }, (_, i) => 0x20 + ((i * 7) % 95));
  for (const n of [0, 1, 2, 11, 12, 13, 36, 63, 64, 65, 200]) {
    const cases: [string, number[]][] = [['ascii', ascii(n)]];
    if (n > 0) {
      cases.push(['é first', [0xc3, 0xa9, ...ascii(n - 1)]]);
      cases.push(['é last', [...ascii(n - 1), 0xc3, 0xa9]]);
      cases.push(['lone 0x80', [...ascii(n - 1), 0x80]]);
      cases.push(['0x7f and NUL', ascii(n).map((c, i) => (i % 2 ? 0x7f : 0))]);
      cases.push(['byte 0xff', [0xff, ...ascii(n - 1)]]);
    }
    for (const [what, bytes] of cases) {
      // A view into a larger buffer, at an odd offset, with bytes around it that must not leak in.
      const backing = new Uint8Array(bytes.length + 7).fill(0x41);
      backing.set(bytes, 3);
      const view = new Uint8Array(backing.buffer, 1, bytes.length + 5);
      const want = reference.decode(new Uint8Array(bytes));
      t.equal(utf8(view, 2, 2 + bytes.length), want, `${n} bytes, ${what}`);
    }
  }
  t.end();
});
