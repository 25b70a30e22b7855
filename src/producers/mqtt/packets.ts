/**
 * MQTT 3.1.1 packets the producer sends and receives. Only what a publisher needs: CONNECT,
 * PUBLISH, PUBREL, PINGREQ, DISCONNECT out; PUBACK, PUBREC, PUBCOMP, PINGRESP in. CONNACK and
 * SUBACK are read by mqtt-packet (control-packets.ts); the packets of the link's one subscription
 * (SUBSCRIBE, incoming PUBLISH) are in subscribe-packets.ts, checked by the same helpers.
 *
 * The encoder is strict: every length and string it puts on the wire is checked, and a value
 * out of bounds throws PacketError. A 2-byte length field that silently wraps would hand the
 * broker a packet on another topic; a bad character makes mosquitto drop the whole connection.
 */
import { FleetTelemetryError } from '../../errors.js';
import { refusedChars } from '../../publish/refused-chars.js';

export const enum PacketType {
  CONNACK = 2,
  PUBLISH = 3,
  PUBACK = 4,
  PUBREC = 5,
  PUBREL = 6,
  PUBCOMP = 7,
  SUBACK = 9,
  PINGRESP = 13,
}

/** Largest remaining length a 4-byte variable-length integer can carry (MQTT 3.1.1 §2.2.3). */
export const MAX_REMAINING_LENGTH = 268_435_455;
/** Largest UTF-8 string or binary field: its length is a 2-byte integer. */
const MAX_STRING_BYTES = 65_535;
export const MAX_PACKET_ID = 65_535;

/** A value the encoder refuses to put on the wire; nothing was written. */
export class PacketError extends FleetTelemetryError {
  declare readonly code: 'packet_invalid';
  constructor(message: string, opts?: { cause?: unknown }) {
    super('packet_invalid', message, opts);
  }
}

// String.prototype.isWellFormed is in Node 20 but not in the ES2022 lib this project compiles with.
const wellFormed = (s: string): boolean => (s as string & { isWellFormed(): boolean }).isWellFormed();

export function remainingLengthSize(n: number): number {
  return n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : 4;
}

export function checkRemaining(n: number, what: string): void {
  if (!(n >= 0 && n <= MAX_REMAINING_LENGTH)) {
    throw new PacketError(`${what} of ${n} bytes exceeds the MQTT maximum packet length of ${MAX_REMAINING_LENGTH} bytes`);
  }
}

export function writeRemainingLength(buf: Buffer, at: number, n: number): number {
  if (!(n >= 0 && n <= MAX_REMAINING_LENGTH)) checkRemaining(n, 'packet');
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    buf[at++] = byte;
  } while (n > 0);
  return at;
}

function writeString(buf: Buffer, at: number, s: Buffer): number {
  buf.writeUInt16BE(s.length, at);
  s.copy(buf, at + 2);
  return at + 2 + s.length;
}

/**
 * Beyond MQTT's own rules for a topic name (no wildcards, no NUL, well-formed UTF-8, at most
 * 65,535 bytes) C0/C1 control characters are refused: some brokers and most consumers mishandle
 * them, and our topics must be safe everywhere. Refused: C0 controls (NUL included), DEL, C1
 * controls, Unicode noncharacters (mosquitto drops the connection on them) and the wildcards.
 */
const FORBIDDEN = refusedChars('+#');

/** Checks a topic name and returns its UTF-8 byte length (hot path: one regex, one byteLength). */
export function topicBytes(topic: string): number {
  if (topic.length === 0) throw new PacketError('topic is empty');
  if (FORBIDDEN.test(topic)) {
    const i = topic.search(FORBIDDEN);
    const c = topic.charCodeAt(i);
    if (c === 0x2b || c === 0x23) throw new PacketError(`topic has wildcard '${String.fromCharCode(c)}' at ${i}`);
    const cp = topic.codePointAt(i)!;
    const what = cp <= 0x9f ? 'control character' : 'Unicode noncharacter';
    throw new PacketError(`topic has ${what} U+${cp.toString(16).toUpperCase().padStart(4, '0')} at ${i}`);
  }
  const n = Buffer.byteLength(topic, 'utf8');
  // As many bytes as characters: all ASCII, so no surrogate to look for.
  if (n !== topic.length && !wellFormed(topic)) throw new PacketError('topic has a lone surrogate (not valid UTF-8)');
  if (n > MAX_STRING_BYTES) throw new PacketError(`topic of ${n} bytes exceeds the MQTT limit of ${MAX_STRING_BYTES} bytes`);
  return n;
}

/** UTF-8 bytes of a string field (client id, user name, …), checked against the 2-byte length. */
export function fieldBytes(s: string, what: string): Buffer {
  if (typeof s !== 'string') throw new PacketError(`${what} is not a string`);
  if (!wellFormed(s)) throw new PacketError(`${what} has a lone surrogate (not valid UTF-8)`);
  const b = Buffer.from(s, 'utf8');
  if (b.length > MAX_STRING_BYTES) throw new PacketError(`${what} of ${b.length} bytes exceeds the MQTT limit of ${MAX_STRING_BYTES} bytes`);
  return b;
}

export function checkQos(qos: number, what: string): void {
  if (qos !== 0 && qos !== 1 && qos !== 2) throw new PacketError(`${what} QoS ${qos} is not 0, 1 or 2`);
}

export function checkPacketId(id: number): void {
  if (!Number.isInteger(id) || id < 1 || id > MAX_PACKET_ID) throw new PacketError(`packet id ${id} is not in 1..${MAX_PACKET_ID}`);
}

export interface ConnectOptions {
  clientId: string;
  keepAliveSeconds: number;
  cleanSession: boolean;
  username?: string;
  password?: string;
  will?: { topic: string; payload: string; qos: 0 | 1 | 2; retain: boolean };
}

export function encodeConnect(o: ConnectOptions): Buffer {
  const ka = o.keepAliveSeconds;
  if (!Number.isInteger(ka) || ka < 0 || ka > 65535) throw new PacketError(`keep-alive ${ka} s is not in 0..65535`);
  const parts: Buffer[] = [fieldBytes(o.clientId, 'client id')];
  let flags = o.cleanSession ? 0x02 : 0;
  if (o.will) {
    checkQos(o.will.qos, 'will');
    topicBytes(o.will.topic);
    flags |= 0x04 | (o.will.qos << 3) | (o.will.retain ? 0x20 : 0);
    parts.push(fieldBytes(o.will.topic, 'will topic'), fieldBytes(o.will.payload, 'will payload'));
  }
  if (o.username !== undefined) {
    flags |= 0x80;
    parts.push(fieldBytes(o.username, 'user name'));
  }
  if (o.password !== undefined) {
    // MQTT 3.1.1 §3.1.2.9: a password without a user name is a protocol violation.
    if (o.username === undefined) throw new PacketError('password given without a user name');
    flags |= 0x40;
    parts.push(fieldBytes(o.password, 'password'));
  }
  const remaining = 10 + parts.reduce((n, p) => n + 2 + p.length, 0);
  checkRemaining(remaining, 'CONNECT');
  const buf = Buffer.allocUnsafe(1 + remainingLengthSize(remaining) + remaining);
  buf[0] = 0x10;
  let at = writeRemainingLength(buf, 1, remaining);
  at = writeString(buf, at, Buffer.from('MQTT'));
  buf[at++] = 4; // protocol level 3.1.1
  buf[at++] = flags;
  buf.writeUInt16BE(ka, at);
  at += 2;
  for (const p of parts) at = writeString(buf, at, p);
  return buf;
}

/**
 * Bytes a PUBLISH takes, for sizing one buffer for a whole batch; throws when the packet would
 * exceed the MQTT maximum.
 */
export function publishSize(topicBytes: number, payloadBytes: number, qos: number): number {
  const remaining = 2 + topicBytes + (qos > 0 ? 2 : 0) + payloadBytes;
  checkRemaining(remaining, 'PUBLISH');
  return 1 + remainingLengthSize(remaining) + remaining;
}

/**
 * Checks a whole PUBLISH and returns its size in bytes. Its byte lengths go to `out` (no array
 * per call): out[at] = topic bytes, out[at + 1] = payload bytes.
 */
export function measurePublish(topic: string, payload: string, qos: number, out: Uint32Array, at: number): number {
  if (typeof payload !== 'string') throw new PacketError('payload is not a string');
  return measureWithPayload(topic, Buffer.byteLength(payload, 'utf8'), qos, out, at);
}

/** The payload `{"value":<json>}` of a V field, written in three parts by writeValuePublish. */
const VALUE_OPEN = Buffer.from('{"value":');
const VALUE_CLOSE = 0x7d; // }
const VALUE_WRAP_BYTES = VALUE_OPEN.length + 1;

/** measurePublish for the payload `{"value":<json>}`, without making that string. */
export function measureValuePublish(topic: string, json: string, qos: number, out: Uint32Array, at: number): number {
  if (typeof json !== 'string' || json.length === 0) throw new PacketError('value is not a JSON text');
  return measureWithPayload(topic, VALUE_WRAP_BYTES + Buffer.byteLength(json, 'utf8'), qos, out, at);
}

function measureWithPayload(topic: string, payloadBytes: number, qos: number, out: Uint32Array, at: number): number {
  checkQos(qos, 'PUBLISH');
  const tb = topicBytes(topic);
  const size = publishSize(tb, payloadBytes, qos);
  out[at] = tb;
  out[at + 1] = payloadBytes;
  return size;
}

/**
 * Writes a PUBLISH at `at` in `buf` (sized with publishSize) and returns the next offset.
 * Topic and payload are written straight from their strings: no intermediate buffers. The byte
 * lengths must come from measurePublish on the same strings (which checks the topic's
 * characters); the numbers are checked again here, as a wrong one would corrupt the stream.
 */
export function writePublish(
  buf: Buffer,
  at: number,
  topic: string,
  topicBytes: number,
  payload: string,
  payloadBytes: number,
  qos: number,
  retain: boolean,
  packetId: number,
): number {
  at = writePublishHead(buf, at, topic, topicBytes, payloadBytes, qos, retain, packetId);
  const pw = buf.write(payload, at, payloadBytes, 'utf8');
  if (pw !== payloadBytes || payload.length > payloadBytes) throw new PacketError(`payload is not ${payloadBytes} bytes long`);
  return at + pw;
}

/** writePublish for the payload `{"value":<json>}`, lengths from measureValuePublish. */
export function writeValuePublish(
  buf: Buffer,
  at: number,
  topic: string,
  topicBytes: number,
  json: string,
  payloadBytes: number,
  qos: number,
  retain: boolean,
  packetId: number,
): number {
  const jsonBytes = payloadBytes - VALUE_WRAP_BYTES;
  if (!(jsonBytes >= 1)) throw new PacketError(`payload of ${payloadBytes} bytes cannot hold a value`);
  at = writePublishHead(buf, at, topic, topicBytes, payloadBytes, qos, retain, packetId);
  at += VALUE_OPEN.copy(buf, at);
  const jw = buf.write(json, at, jsonBytes, 'utf8');
  if (jw !== jsonBytes || json.length > jsonBytes) throw new PacketError(`value is not ${jsonBytes} bytes long`);
  at += jw;
  buf[at++] = VALUE_CLOSE;
  return at;
}

/** Fixed header, topic and packet id of a PUBLISH; returns where its payload goes. */
function writePublishHead(
  buf: Buffer,
  at: number,
  topic: string,
  topicBytes: number,
  payloadBytes: number,
  qos: number,
  retain: boolean,
  packetId: number,
): number {
  // One cheap test for the common case; the checks that name the problem only when it fails.
  if (!(
    topicBytes >= 1 &&
    topicBytes <= MAX_STRING_BYTES &&
    (qos === 0 || ((qos === 1 || qos === 2) && packetId >= 1 && packetId <= MAX_PACKET_ID && (packetId | 0) === packetId))
  )) {
    if (!(topicBytes >= 1 && topicBytes <= MAX_STRING_BYTES)) throw new PacketError(`topic length ${topicBytes} is not in 1..${MAX_STRING_BYTES}`);
    checkQos(qos, 'PUBLISH');
    checkPacketId(packetId);
  }
  const remaining = 2 + topicBytes + (qos > 0 ? 2 : 0) + payloadBytes;
  buf[at++] = 0x30 | (qos << 1) | (retain ? 1 : 0);
  at = writeRemainingLength(buf, at, remaining);
  buf[at++] = topicBytes >>> 8;
  buf[at++] = topicBytes & 0xff;
  // A string never has more UTF-16 units than UTF-8 bytes: together with the count written, this
  // catches a length that does not belong to the string without measuring it again.
  const tw = buf.write(topic, at, topicBytes, 'utf8');
  if (tw !== topicBytes || topic.length > topicBytes) throw new PacketError(`topic is not ${topicBytes} bytes long`);
  at += tw;
  if (qos > 0) {
    buf[at++] = packetId >>> 8;
    buf[at++] = packetId & 0xff;
  }
  return at;
}

/** One PUBLISH in its own buffer, every field checked (status messages, tests). */
export function encodePublish(topic: string, payload: string, qos: number, retain: boolean, packetId: number): Buffer {
  const lens = new Uint32Array(2);
  const size = measurePublish(topic, payload, qos, lens, 0);
  const buf = Buffer.allocUnsafe(size);
  writePublish(buf, 0, topic, lens[0], payload, lens[1], qos, retain, packetId);
  return buf;
}

export function encodePubrel(id: number): Buffer {
  checkPacketId(id);
  return Buffer.from([0x62, 2, id >>> 8, id & 0xff]);
}

export const PINGREQ = Buffer.from([0xc0, 0]);
export const DISCONNECT = Buffer.from([0xe0, 0]);

/**
 * Splits the broker's byte stream into packets: (type, buffer, body start, body length). No
 * slice per packet: a read often holds thousands of 4-byte PUBACKs.
 */
export class PacketReader {
  private buf: Buffer = Buffer.alloc(0);

  constructor(private readonly onPacket: (type: number, buf: Buffer, start: number, length: number, flags: number) => void) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    let at = 0;
    const b = this.buf;
    for (;;) {
      if (b.length - at < 2) break;
      let len = 0;
      let mult = 1;
      let i = at + 1;
      let complete = false;
      for (let k = 0; k < 4 && i < b.length; k++) {
        const byte = b[i++];
        len += (byte & 0x7f) * mult;
        mult *= 128;
        if (byte < 0x80) {
          complete = true;
          break;
        }
      }
      if (!complete) {
        if (i - at > 4) throw new Error('malformed remaining length from broker');
        break;
      }
      if (b.length - i < len) break;
      this.onPacket(b[at] >> 4, b, i, len, b[at] & 0x0f);
      at = i + len;
    }
    this.buf = at === b.length ? Buffer.alloc(0) : b.subarray(at);
  }
}

/** MQTT 3.1.1 CONNACK return codes (and the MQTT 5 ones a broker may answer a 3.1.1 client with). */
const CONNACK_REASONS: Record<number, string> = {
  1: 'unacceptable protocol version',
  2: 'client id rejected',
  3: 'server unavailable',
  4: 'bad user name or password',
  5: 'not authorized',
  128: 'unspecified error',
  133: 'client id rejected',
  134: 'bad user name or password',
  135: 'not authorized',
  136: 'server unavailable',
  137: 'server busy',
  138: 'banned',
  140: 'bad authentication method',
};

/** A CONNACK code in words, e.g. 5 → "not authorized". */
export function connackReason(rc: number): string {
  return CONNACK_REASONS[rc] ?? `unknown reason`;
}
