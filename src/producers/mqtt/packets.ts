/**
 * MQTT 3.1.1 packets the producer sends and receives. Only what a publisher needs: CONNECT,
 * PUBLISH, PUBREL, PINGREQ, DISCONNECT out; CONNACK, PUBACK, PUBREC, PUBCOMP, PINGRESP in.
 */

export const enum PacketType {
  CONNACK = 2,
  PUBLISH = 3,
  PUBACK = 4,
  PUBREC = 5,
  PUBREL = 6,
  PUBCOMP = 7,
  PINGRESP = 13,
}

function remainingLengthSize(n: number): number {
  return n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : 4;
}

function writeRemainingLength(buf: Buffer, at: number, n: number): number {
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

export interface ConnectOptions {
  clientId: string;
  keepAliveSeconds: number;
  cleanSession: boolean;
  username?: string;
  password?: string;
  will?: { topic: string; payload: string; qos: 0 | 1 | 2; retain: boolean };
}

export function encodeConnect(o: ConnectOptions): Buffer {
  const parts: Buffer[] = [Buffer.from(o.clientId, 'utf8')];
  let flags = o.cleanSession ? 0x02 : 0;
  if (o.will) {
    flags |= 0x04 | (o.will.qos << 3) | (o.will.retain ? 0x20 : 0);
    parts.push(Buffer.from(o.will.topic, 'utf8'), Buffer.from(o.will.payload, 'utf8'));
  }
  if (o.username !== undefined) {
    flags |= 0x80;
    parts.push(Buffer.from(o.username, 'utf8'));
  }
  if (o.password !== undefined) {
    flags |= 0x40;
    parts.push(Buffer.from(o.password, 'utf8'));
  }
  const remaining = 10 + parts.reduce((n, p) => n + 2 + p.length, 0);
  const buf = Buffer.allocUnsafe(1 + remainingLengthSize(remaining) + remaining);
  buf[0] = 0x10;
  let at = writeRemainingLength(buf, 1, remaining);
  at = writeString(buf, at, Buffer.from('MQTT'));
  buf[at++] = 4; // protocol level 3.1.1
  buf[at++] = flags;
  buf.writeUInt16BE(o.keepAliveSeconds, at);
  at += 2;
  for (const p of parts) at = writeString(buf, at, p);
  return buf;
}

/** Bytes a PUBLISH takes, for sizing one buffer for a whole batch. */
export function publishSize(topicBytes: number, payloadBytes: number, qos: number): number {
  const remaining = 2 + topicBytes + (qos > 0 ? 2 : 0) + payloadBytes;
  return 1 + remainingLengthSize(remaining) + remaining;
}

/**
 * Writes a PUBLISH at `at` in `buf` (sized with publishSize) and returns the next offset.
 * Topic and payload are written straight from their strings: no intermediate buffers.
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
  const remaining = 2 + topicBytes + (qos > 0 ? 2 : 0) + payloadBytes;
  buf[at++] = 0x30 | (qos << 1) | (retain ? 1 : 0);
  at = writeRemainingLength(buf, at, remaining);
  buf[at++] = topicBytes >>> 8;
  buf[at++] = topicBytes & 0xff;
  at += buf.write(topic, at, topicBytes, "utf8");
  if (qos > 0) {
    buf[at++] = packetId >>> 8;
    buf[at++] = packetId & 0xff;
  }
  at += buf.write(payload, at, payloadBytes, "utf8");
  return at;
}

export function encodePubrel(id: number): Buffer {
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

  constructor(private readonly onPacket: (type: number, buf: Buffer, start: number, length: number) => void) {}

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
      this.onPacket(b[at] >> 4, b, i, len);
      at = i + len;
    }
    this.buf = at === b.length ? Buffer.alloc(0) : b.subarray(at);
  }
}
