import t from 'tap';
import Long from 'long';
import { peekTxid, readFrame, UnreadableFrame, writeAck, writeError, writeOtherFrame, writeStreamFrame } from '../src/envelope/index.js';
import { DecodeError, decodeRecord, KNOWN_RECORD_TYPES } from '../src/record/decode.js';
import { lookupType } from '../src/record/schema.js';
import { defaultPlanOptions, planPublishes } from '../src/publish/plan.js';
import { loadConformance } from './helpers/fixtures.js';

// Hostile input: random and mutated frames through the whole read path. The only exception
// allowed anywhere is DecodeError from decodeRecord; every publish that comes out must be
// well formed. The PRNG is seeded: a failure names its case number and reproduces.

const SEED = Number(process.env.HOSTILE_SEED ?? 20240611);
const VIN = '5YJ3E1EA7KF000001';
const OPTS = defaultPlanOptions('telemetry');

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0; // mulberry32
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
const rnd = prng(SEED);
const int = (n: number) => Math.floor(rnd() * n);
const pick = <T>(a: readonly T[]): T => a[int(a.length)];
const randomBytes = (n: number) => Uint8Array.from({ length: n }, () => int(256));

const enc = (type: string, obj: Record<string, unknown>) => {
  const ty = lookupType(type);
  return ty.encode(ty.fromObject(obj)).finish();
};
const ts = (s: number | string) => ({ seconds: Long.fromValue(s), nanos: 1 });

// Valid payloads of every record type, to start mutations from.
const payloads: Record<string, Uint8Array[]> = {
  V: [
    enc('telemetry.vehicle_data.Payload', {
      created_at: ts(1700000000),
      vin: VIN,
      data: [
        { key: 4, value: { float_value: 65.4 } },
        { key: 5, value: { double_value: 12345.678 } },
        { key: 10, value: { shift_state_value: 5 } },
        { key: 21, value: { location_value: { latitude: 37.4, longitude: -122.1 } } },
        { key: 21, value: { string_value: '(37.412374 N, 122.145867 W)' } },
        { key: 42, value: { string_value: '5.0e-3' } },
        { key: 58, value: { door_value: { DriverFront: true, TrunkRear: true } } },
        { key: 44, value: { time_value: { hour: 7, minute: 5, second: 9 } } },
        { key: 224, value: { tire_location_value: { front_left: true } } },
        { key: 102, value: { long_value: Long.fromString('-9223372036854775808') } },
        { key: 49, value: { int_value: -5 } },
        { key: 59, value: { boolean_value: true } },
        { key: 300, value: { invalid: true } },
        { key: 64, value: { string_value: 'Blue Thunder ü' } },
        { key: 8, value: {} },
      ],
    }),
  ],
  alerts: [
    enc('telemetry.vehicle_alerts.VehicleAlerts', {
      created_at: ts(1700000000),
      alerts: [
        { name: 'ChargePortFault', audiences: [1, 2], started_at: ts(1700000100), ended_at: ts(1700000200) },
        { name: 'ChargePortFault', audiences: [9], started_at: ts('1700000300000') },
        { name: 'a/b+#', audiences: [] },
      ],
    }),
  ],
  errors: [
    enc('telemetry.vehicle_error.VehicleErrors', {
      errors: [
        { name: 'CAN_timeout', body: 'bus 2 silent', tags: { bus: '2', ecu: 'x' }, created_at: ts(1700000000) },
        { name: '#', body: '' },
      ],
    }),
  ],
  connectivity: [
    enc('telemetry.vehicle_connectivity.VehicleConnectivity', {
      vin: VIN,
      connection_id: '3f2504e0-4f89-41d3-9a0c-0305e82c3301',
      status: 1,
      created_at: ts(1700000000),
      network_interface: 'wifi',
    }),
  ],
};

const frameOf = (recordType: string, payload: Uint8Array, txid = `tx-${int(1000)}`) =>
  writeStreamFrame({
    txid,
    recordType,
    payload,
    senderId: `vehicle_device.${VIN}`,
    createdAt: 1700000000,
    deviceType: 'vehicle_device',
    deviceId: VIN,
    deliveredAtEpochMs: 1700000000123n,
    messageId: 'mid',
  });

const seeds: Uint8Array[] = [
  ...loadConformance().cases.map((c) => new Uint8Array(Buffer.from(c.frame_b64, 'base64'))),
  ...Object.entries(payloads).flatMap(([type, ps]) => ps.map((p) => frameOf(type, p))),
  frameOf('V', new Uint8Array(0), ''),
  writeAck('ack-tx', 'V'),
  writeError('err-tx', 'reason'),
  writeOtherFrame('other', 'V', 7),
];

/** Random protobuf-shaped bytes: plausible tags and wire types, nested messages, some junk. */
function randomProto(depth: number): Uint8Array {
  const out: number[] = [];
  const varint = (v: bigint) => {
    let n = BigInt.asUintN(64, v);
    do {
      const b = Number(n & 0x7fn);
      n >>= 7n;
      out.push(n ? b | 0x80 : b);
    } while (n);
  };
  const fields = int(8);
  for (let i = 0; i < fields; i++) {
    const id = rnd() < 0.7 ? 1 + int(4) : rnd() < 0.8 ? 1 + int(60) : int(2 ** 29);
    const wt = rnd() < 0.9 ? pick([0, 0, 1, 2, 2, 2, 5]) : int(8);
    varint(BigInt((id << 3) | wt) & 0xffffffffn);
    switch (wt) {
      case 0:
        varint(rnd() < 0.5 ? BigInt(int(400)) : BigInt.asIntN(64, (BigInt(int(2 ** 32)) << 32n) | BigInt(int(2 ** 32))));
        break;
      case 1:
        out.push(...randomBytes(8));
        break;
      case 5:
        out.push(...randomBytes(4));
        break;
      case 2: {
        const body = depth > 0 && rnd() < 0.6 ? randomProto(depth - 1) : randomBytes(int(12));
        varint(BigInt(rnd() < 0.95 ? body.length : body.length + int(5) - 2) & 0xffffffffn);
        out.push(...body);
        break;
      }
      default:
        out.push(...randomBytes(int(4)));
    }
  }
  return Uint8Array.from(out);
}

function mutate(src: Uint8Array): Uint8Array {
  const b = src.slice();
  const view = new DataView(b.buffer);
  switch (int(9)) {
    case 0: // bit flips
      for (let i = 1 + int(8); i > 0 && b.length; i--) b[int(b.length)] ^= 1 << int(8);
      return b;
    case 1: // byte overwrites
      for (let i = 1 + int(4); i > 0 && b.length; i--) b[int(b.length)] = pick([0, 0xff, 0x80, 0x7f, int(256)]);
      return b;
    case 2: {
      // a uint32 (offset or length) set to something huge or just past the end
      if (b.length < 4) return b;
      const at = rnd() < 0.7 ? int(b.length >> 2) << 2 : int(b.length - 3);
      view.setUint32(at, pick([0xffffffff, 0x7fffffff, 0x80000000, b.length, b.length + 1, b.length - 1, b.length - 4, int(2 ** 32), at]) >>> 0, true);
      return b;
    }
    case 3: {
      // a vtable-sized uint16
      if (b.length < 2) return b;
      view.setUint16(int(b.length >> 1) << 1, pick([0, 1, 3, 0xffff, 0x8000, b.length, int(65536)]), true);
      return b;
    }
    case 4: // truncation
      return b.subarray(0, int(b.length));
    case 5: {
      // a slice cut out
      const s = int(b.length);
      return Uint8Array.from([...b.subarray(0, s), ...b.subarray(s + 1 + int(16))]);
    }
    case 6: {
      // random bytes inserted
      const s = int(b.length + 1);
      return Uint8Array.from([...b.subarray(0, s), ...randomBytes(1 + int(16)), ...b.subarray(s)]);
    }
    case 7: // appended junk
      return Uint8Array.from([...b, ...randomBytes(1 + int(64))]);
    default: // several mutations at once
      return mutate(mutate(b));
  }
}

interface Tally {
  [k: string]: number;
}
const tally: Tally = {};
const count = (k: string) => (tally[k] = (tally[k] ?? 0) + 1);
const failures: string[] = [];
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function checkPublishes(ps: ReturnType<typeof planPublishes>, where: string) {
  for (const p of ps) {
    const rest = p.topic.slice(OPTS.topicBase.length + 1);
    if (!p.topic.startsWith(OPTS.topicBase + '/') || /[+#\u0000]/.test(rest)) failures.push(`${where}: bad topic ${JSON.stringify(p.topic)}`);
    const levels = rest.split('/');
    const shape = levels[1];
    const expected = shape === 'v' ? 3 : shape === 'alerts' ? 4 : shape === 'errors' ? 3 : shape === 'connectivity' ? 2 : -1;
    if (levels.length !== expected) failures.push(`${where}: topic ${JSON.stringify(p.topic)} has ${levels.length} levels`);
    try {
      JSON.parse(p.payload);
    } catch {
      failures.push(`${where}: payload is not JSON: ${p.payload}`);
    }
  }
  count(`publishes`);
}

/** Everything the server does with a frame's bytes, minus the network. */
function run(buf: Uint8Array, where: string) {
  count('frames');
  let f;
  try {
    f = readFrame(buf);
  } catch (err) {
    // The one failure readFrame may have: UnreadableFrame, with a reason.
    if (!(err instanceof UnreadableFrame)) failures.push(`${where}: readFrame threw ${(err as Error).stack} on ${hex(buf)}`);
    else {
      count(`read: ${err.flaw}`);
      if (!err.message) failures.push(`${where}: failure without a reason`);
    }
    return;
  }
  try {
    if (hex(peekTxid(buf)) !== hex(f.txidBytes)) failures.push(`${where}: peekTxid differs from readFrame`);
  } catch (err) {
    failures.push(`${where}: peekTxid threw ${(err as Error).stack} on ${hex(buf)}`);
    return;
  }
  count(f.stream ? 'read: stream' : 'read: other message');
  try {
    const ack = readFrame(writeAck(f.txidBytes, f.recordType));
    const err = readFrame(writeError(f.txidBytes, 'x'));
    if (hex(ack.txidBytes) !== hex(f.txidBytes) || ack.recordType !== f.recordType) failures.push(`${where}: ack does not echo`);
    if (hex(err.txidBytes) !== hex(f.txidBytes)) failures.push(`${where}: error does not echo`);
  } catch (e) {
    failures.push(`${where}: response threw ${(e as Error).message}`);
  }
  if (!f.stream) return;
  // The payload as every known record type, whatever the frame claims.
  for (const type of KNOWN_RECORD_TYPES) decodeAndPlan(type, f.stream.payload, f.txid, where);
}

function decodeAndPlan(type: string, payload: Uint8Array, txid: string, where: string) {
  let record;
  try {
    record = decodeRecord(type, payload, VIN, txid);
  } catch (err) {
    if (err instanceof DecodeError) count(`decode ${type}: DecodeError`);
    else failures.push(`${where}: decodeRecord(${type}) threw ${(err as Error).stack} on ${hex(payload)}`);
    return;
  }
  count(`decode ${type}: ok`);
  try {
    checkPublishes(planPublishes(record, OPTS), where);
  } catch (err) {
    failures.push(`${where}: planPublishes(${type}) threw ${(err as Error).stack} on ${hex(payload)}`);
  }
}

t.test(`hostile frames (seed ${SEED})`, async (t) => {
  const started = Date.now();
  let n = 0;

  // Truncation at every length of a few frames.
  for (const s of seeds.slice(0, 4).concat(seeds.slice(7, 11))) {
    for (let len = 0; len <= s.length; len++) run(s.subarray(0, len), `truncate ${n++}`);
  }
  // Random garbage of random lengths, 0 included.
  for (let i = 0; i < 2000; i++) run(randomBytes(i < 20 ? i : int(rnd() < 0.8 ? 64 : 2048)), `garbage ${n++}`);
  // Garbage that starts like a frame: a plausible root offset.
  for (let i = 0; i < 1000; i++) {
    const b = randomBytes(8 + int(200));
    new DataView(b.buffer).setUint32(0, int(b.length), true);
    run(b, `rooted garbage ${n++}`);
  }
  // Mutated frames.
  for (let i = 0; i < 30000; i++) run(mutate(pick(seeds)), `mutant ${n++}`);
  // Sound envelopes around mutated or random payloads: exercises the decoders deeply.
  const types = Object.keys(payloads);
  for (let i = 0; i < 10000; i++) {
    const type = pick(types);
    const payload = rnd() < 0.5 ? mutate(pick(payloads[type])) : randomProto(3);
    run(frameOf(pick([...types, 'foo', '']), payload), `payload ${n++}`);
  }

  const ms = Date.now() - started;
  t.same(failures.slice(0, 10), [], 'nothing throws but DecodeError, every publish well formed');
  t.equal(failures.length, 0, `${failures.length} failures`);
  t.ok(tally.frames >= 10000, `${tally.frames} frames`);
  t.ok((tally['read: stream'] ?? 0) > 1000, 'many frames still read as a Stream');
  t.ok((tally['decode V: ok'] ?? 0) > 500, 'many payloads still decode');
  t.ok((tally['decode V: DecodeError'] ?? 0) > 500, 'many payloads are refused');
  t.ok((tally['read: bad_offset'] ?? 0) > 100, 'many envelopes are refused');
  t.comment(`${ms} ms; outcomes: ${JSON.stringify(tally, Object.keys(tally).sort(), 1)}`);
});
