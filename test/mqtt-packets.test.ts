import t, { type Test } from 'tap';
import mqttPacket from 'mqtt-packet';
import {
  encodeConnect,
  encodePubrel,
  encodePublish,
  MAX_REMAINING_LENGTH,
  measurePublish,
  measureValuePublish,
  PacketError,
  publishSize,
  topicBytes,
  writePublish,
  writeValuePublish,
  type ConnectOptions,
} from '../src/producers/mqtt/packets.js';
import { ValuePublish } from '../src/publish/plan.js';

// The strict encoder: every edge of every length and string it writes, decoded back by an
// independent parser (mqtt-packet, the one mqtt.js uses) and compared.

interface Decoded {
  cmd: string;
  topic?: string;
  payload?: Buffer;
  qos?: number;
  retain?: boolean;
  messageId?: number;
  clientId?: string;
  keepalive?: number;
  username?: string;
  password?: Buffer;
  will?: { topic: string; payload: Buffer; qos: number; retain: boolean };
  length: number;
}

function decode(buf: Buffer): Decoded[] {
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  const out: Decoded[] = [];
  const errors: Error[] = [];
  parser.on('packet', (p) => out.push(p as unknown as Decoded));
  parser.on('error', (e: Error) => errors.push(e));
  parser.parse(buf);
  if (errors.length) throw errors[0];
  return out;
}

function roundTrip(t: Test, topic: string, payload: string, qos: 0 | 1 | 2, retain: boolean, id: number) {
  const buf = encodePublish(topic, payload, qos, retain, id);
  const [p, ...rest] = decode(buf);
  t.equal(rest.length, 0, 'exactly one packet');
  t.equal(p.cmd, 'publish');
  t.equal(p.topic, topic, 'topic decodes back');
  t.equal(p.payload!.toString('utf8'), payload, 'payload decodes back');
  t.equal(p.qos, qos);
  t.equal(p.retain, retain);
  if (qos > 0) t.equal(p.messageId, id);
  t.equal(buf.length, publishSize(Buffer.byteLength(topic), Buffer.byteLength(payload), qos), 'size as publishSize says');
  return buf;
}

function refuses(t: Test, fn: () => unknown, pattern: RegExp, what: string) {
  t.throws(fn, pattern, what);
  try {
    fn();
  } catch (err) {
    t.type(err, PacketError, `${what}: a PacketError`);
    t.equal((err as PacketError).code, 'packet_invalid');
  }
}

t.test('topic length: 65,535 bytes is the last that fits', async (t) => {
  roundTrip(t, 'a'.repeat(65_535), 'x', 1, false, 1);
  refuses(t, () => encodePublish('a'.repeat(65_536), 'x', 1, false, 1), /65536 bytes exceeds the MQTT limit of 65535/, '65,536 bytes');
  refuses(t, () => encodePublish('a'.repeat(65_536 + 9), 'x', 0, false, 0), /65545 bytes/, '65,545 bytes (used to wrap to 9)');
  // Multi-byte UTF-8 at the boundary: 'é' is 2 bytes, '€' 3, '😀' 4 (a surrogate pair in JS).
  roundTrip(t, 'a'.repeat(65_533) + 'é', 'x', 1, false, 2);
  refuses(t, () => encodePublish('a'.repeat(65_534) + 'é', 'x', 1, false, 2), /65536 bytes/, 'a 2-byte char crossing the limit');
  roundTrip(t, 'a'.repeat(65_532) + '€', 'x', 1, false, 3);
  refuses(t, () => encodePublish('a'.repeat(65_533) + '€', 'x', 1, false, 3), /65536 bytes/, 'a 3-byte char crossing the limit');
  roundTrip(t, 'a'.repeat(65_531) + '😀', '', 2, true, 65_535);
  refuses(t, () => encodePublish('a'.repeat(65_532) + '😀', 'x', 1, false, 3), /65536 bytes/, 'a 4-byte char crossing the limit');
  // 21,845 three-byte chars = 65,535 bytes in only 21,845 UTF-16 units.
  roundTrip(t, '€'.repeat(21_845), 'x', 0, false, 0);
  refuses(t, () => encodePublish('€'.repeat(21_846), 'x', 0, false, 0), /65538 bytes/, 'string length small, byte length over');
});

t.test('topic characters', async (t) => {
  refuses(t, () => encodePublish('', 'x', 0, false, 0), /topic is empty/, 'empty topic');
  for (const c of ['+', '#']) refuses(t, () => encodePublish(`a/${c}/b`, 'x', 1, false, 1), /wildcard/, `wildcard ${c}`);
  refuses(t, () => encodePublish('a\u0000b', 'x', 1, false, 1), /U\+0000/, 'NUL');
  const forbidden = [...Array.from({ length: 0x20 }, (_, i) => i), ...Array.from({ length: 0x9f - 0x7f + 1 }, (_, i) => 0x7f + i)];
  for (const c of forbidden) {
    const hex = c.toString(16).toUpperCase().padStart(4, '0');
    t.throws(() => encodePublish(`a/${String.fromCharCode(c)}`, 'x', 1, false, 1), new RegExp(`control character U\\+${hex} at 2`), `U+${hex}`);
  }
  t.equal(forbidden.length, 32 + 33, 'every C0 and C1 control character, and DEL');
  for (const cp of [0xfdd0, 0xfdef, 0xfffe, 0xffff, 0x1fffe, 0x10ffff]) {
    const hex = cp.toString(16).toUpperCase().padStart(4, '0');
    refuses(
      t,
      () => encodePublish(`a/${String.fromCodePoint(cp)}`, 'x', 1, false, 1),
      new RegExp(`Unicode noncharacter U\\+${hex} at 2`),
      `noncharacter U+${hex}`,
    );
  }
  roundTrip(t, `a/${String.fromCodePoint(0xfdcf)}${String.fromCodePoint(0x1fffd)}`, 'x', 1, false, 3);
  refuses(t, () => encodePublish('a/\ud800', 'x', 1, false, 1), /lone surrogate/, 'lone high surrogate');
  refuses(t, () => encodePublish('\udc00/a', 'x', 1, false, 1), /lone surrogate/, 'lone low surrogate');
  refuses(t, () => encodePublish('a\udc00\ud800', 'x', 1, false, 1), /lone surrogate/, 'reversed pair');
  // Allowed: the rest of Unicode, including U+00A0 just past C1, and a well-formed pair.
  roundTrip(t, 'a/\u00a0/~/ü/😀/ /$x', 'x', 1, false, 7);
  t.equal(topicBytes('a/😀'), 6);
});

t.test('remaining length: each size boundary of the variable-length integer', async (t) => {
  // topic "t" at QoS 0: remaining = 2 + 1 + payload.
  for (const [remaining, headerBytes] of [
    [127, 1],
    [128, 2],
    [16_383, 2],
    [16_384, 3],
    [2_097_151, 3],
    [2_097_152, 4],
  ] as const) {
    const payload = 'p'.repeat(remaining - 3);
    const buf = roundTrip(t, 't', payload, 0, false, 0);
    t.equal(buf.length, 1 + headerBytes + remaining, `remaining ${remaining} takes ${headerBytes} length byte(s)`);
    t.equal(buf[headerBytes] & 0x80, 0, 'the last length byte has no continuation bit');
  }
  t.equal(publishSize(1, MAX_REMAINING_LENGTH - 3, 0), 1 + 4 + MAX_REMAINING_LENGTH, 'the maximum fits');
  t.throws(() => publishSize(1, MAX_REMAINING_LENGTH - 2, 0), { name: 'PacketError' }, 'one more byte does not');
  t.throws(() => publishSize(1, MAX_REMAINING_LENGTH - 4, 1), { name: 'PacketError' }, 'the packet id counts');
});

t.test('remaining length: the real maximum packet, and one byte more', async (t) => {
  const payload = 'm'.repeat(MAX_REMAINING_LENGTH - 3);
  const lens = new Uint32Array(2);
  const size = measurePublish('t', payload, 0, lens, 0);
  t.equal(size, 1 + 4 + MAX_REMAINING_LENGTH);
  const buf = Buffer.alloc(size);
  t.equal(writePublish(buf, 0, 't', lens[0], payload, lens[1], 0, false, 0), size, 'written to the last byte');
  t.same([...buf.subarray(0, 8)], [0x30, 0xff, 0xff, 0xff, 0x7f, 0, 1, 0x74], 'header: 0xff 0xff 0xff 0x7f');
  t.equal(buf[size - 1], 0x6d);
  refuses(t, () => measurePublish('t', payload + 'm', 0, lens, 0), /268435456 bytes exceeds the MQTT maximum packet length of 268435455/, 'max + 1');
  refuses(t, () => measurePublish('t', payload, 1, lens, 0), /exceeds the MQTT maximum/, 'max + packet id');
});

t.test('QoS and packet id', async (t) => {
  roundTrip(t, 'q', 'x', 1, false, 1);
  roundTrip(t, 'q', 'x', 2, false, 65_535);
  roundTrip(t, 'q', 'x', 0, true, 0);
  refuses(t, () => encodePublish('q', 'x', 1, false, 0), /packet id 0 is not in 1..65535/, 'id 0 at QoS 1');
  refuses(t, () => encodePublish('q', 'x', 2, false, 65_536), /packet id 65536/, 'id 65,536');
  refuses(t, () => encodePublish('q', 'x', 1, false, 1.5), /packet id 1.5/, 'fractional id');
  refuses(t, () => encodePublish('q', 'x', 3, false, 1), /QoS 3 is not 0, 1 or 2/, 'QoS 3');
  refuses(t, () => encodePublish('q', 'x', -1, false, 1), /QoS -1/, 'QoS -1');
  refuses(t, () => encodePubrel(0), /packet id 0/, 'PUBREL id 0');
  t.same([...encodePubrel(65_535)], [0x62, 2, 0xff, 0xff]);
});

t.test('writePublish checks the lengths it is given against the strings', async (t) => {
  const buf = Buffer.alloc(100);
  t.throws(() => writePublish(buf, 0, 'abc', 2, 'x', 1, 0, false, 0), /topic is not 2 bytes/, 'a topic longer than said');
  t.throws(() => writePublish(buf, 0, 'abc', 4, 'x', 1, 0, false, 0), /topic is not 4 bytes/, 'a topic shorter than said');
  t.throws(() => writePublish(buf, 0, 'abc', 3, 'x', 2, 0, false, 0), /payload is not 2 bytes/, 'a payload shorter than said');
  t.throws(() => writePublish(buf, 0, 'a', 65_536 + 1, 'x', 1, 0, false, 0), /topic length 65537/, 'a length over the field');
  t.throws(() => writePublish(buf, 0, '', 0, 'x', 1, 0, false, 0), /topic length 0/, 'an empty topic');
});

const base: ConnectOptions = { clientId: 'c', keepAliveSeconds: 30, cleanSession: true };

t.test('CONNECT: every string up to 65,535 bytes, decoded back', async (t) => {
  const big = 'é'.repeat(32_767) + 'a'; // 65,535 bytes
  const o: ConnectOptions = {
    clientId: big,
    keepAliveSeconds: 65_535,
    cleanSession: true,
    username: big,
    password: big,
    will: { topic: 'w/' + 'a'.repeat(65_533), payload: big, qos: 2, retain: true },
  };
  const [p] = decode(encodeConnect(o));
  t.equal(p.cmd, 'connect');
  t.equal(p.clientId, big);
  t.equal(p.keepalive, 65_535);
  t.equal(p.username, big);
  t.equal(p.password!.toString('utf8'), big);
  t.equal(p.will!.topic, o.will!.topic);
  t.equal(p.will!.payload.toString('utf8'), big);
  t.equal(p.will!.qos, 2);
  t.equal(p.will!.retain, true);
  const [q] = decode(encodeConnect({ ...base, keepAliveSeconds: 0 }));
  t.equal(q.keepalive, 0);
  t.equal(q.clientId, 'c');
});

t.test('CONNECT: refusals', async (t) => {
  const over = 'a'.repeat(65_536);
  refuses(t, () => encodeConnect({ ...base, clientId: over }), /client id of 65536 bytes/, 'client id');
  refuses(t, () => encodeConnect({ ...base, username: over }), /user name of 65536 bytes/, 'user name');
  refuses(t, () => encodeConnect({ ...base, username: 'u', password: over }), /password of 65536 bytes/, 'password');
  refuses(t, () => encodeConnect({ ...base, will: { topic: over, payload: 'x', qos: 1, retain: false } }), /topic of 65536 bytes/, 'will topic');
  refuses(t, () => encodeConnect({ ...base, will: { topic: 'w', payload: over, qos: 1, retain: false } }), /will payload of 65536 bytes/, 'will payload');
  refuses(t, () => encodeConnect({ ...base, will: { topic: 'w/#', payload: 'x', qos: 1, retain: false } }), /wildcard/, 'will topic wildcard');
  refuses(t, () => encodeConnect({ ...base, will: { topic: 'w', payload: 'x', qos: 3 as 1, retain: false } }), /QoS 3/, 'will QoS');
  refuses(t, () => encodeConnect({ ...base, keepAliveSeconds: 65_536 }), /keep-alive 65536/, 'keep-alive over');
  refuses(t, () => encodeConnect({ ...base, keepAliveSeconds: -1 }), /keep-alive -1/, 'keep-alive negative');
  refuses(t, () => encodeConnect({ ...base, clientId: 'a\ud800' }), /client id has a lone surrogate/, 'client id surrogate');
  refuses(t, () => encodeConnect({ ...base, password: 'p' }), /password given without a user name/, 'password alone');
});

t.test('a V value publish written in three parts is byte for byte the publish of {"value":<json>}', (t) => {
  const jsons = ['1', '12.5', 'null', 'true', '"ShiftStateD"', '"Grüße 🚗"', '{"latitude":37.7749,"longitude":-122.4194}', `"${'x'.repeat(70_000)}"`];
  for (const json of jsons) {
    for (const [qos, retain, id] of [
      [0, false, 0],
      [1, true, 7],
      [2, false, 65_535],
    ] as const) {
      const topic = 'telemetry/5YJ3E1EA7KF000001/v/Gear';
      const plain = encodePublish(topic, `{"value":${json}}`, qos, retain, id);
      const lens = new Uint32Array(2);
      const size = measureValuePublish(topic, json, qos, lens, 0);
      t.equal(size, plain.length, `${json.slice(0, 20)} qos ${qos}: same size`);
      const buf = Buffer.alloc(size);
      const end = writeValuePublish(buf, 0, topic, lens[0], json, lens[1], qos, retain, id);
      t.equal(end, size, 'written to the end');
      t.ok(buf.equals(plain), `${json.slice(0, 20)} qos ${qos}: same bytes`);
    }
  }
  const p = new ValuePublish('t/v/Soc', '80', 1, false);
  t.equal(p.payload, '{"value":80}', 'the payload, for whoever reads it');
  t.end();
});

t.test('a V value publish is checked as strictly as any other', (t) => {
  const lens = new Uint32Array(2);
  t.throws(() => measureValuePublish('t/v/X', '', 1, lens, 0), PacketError, 'an empty value');
  t.throws(() => measureValuePublish('t/v/X', 5 as unknown as string, 1, lens, 0), PacketError, 'a value that is not a string');
  t.throws(() => measureValuePublish('t/v/+', '1', 1, lens, 0), PacketError, 'a wildcard in the topic');
  t.throws(() => measureValuePublish('t/v/X', 'x'.repeat(MAX_REMAINING_LENGTH), 1, lens, 0), PacketError, 'past the largest packet');
  const size = measureValuePublish('t/v/X', '123', 1, lens, 0);
  for (const [changed, why] of [
    ['1234', 'longer'],
    ['12', 'shorter'],
    ['12é', 'a multi-byte character, one byte more'],
  ] as const) {
    t.throws(
      () => writeValuePublish(Buffer.alloc(size + 8), 0, 't/v/X', lens[0], changed, lens[1], 1, false, 1),
      PacketError,
      `a value changed after it was measured (${why})`,
    );
  }
  t.throws(() => writeValuePublish(Buffer.alloc(64), 0, 't/v/X', lens[0], '1', 10, 1, false, 1), PacketError, 'a payload length that cannot hold a value');
  t.throws(() => writeValuePublish(Buffer.alloc(64), 0, 't/v/X', lens[0], '123', lens[1], 1, false, 0), PacketError, 'packet id 0 at QoS 1');
  t.end();
});
