/**
 * The packets of the link's one subscription (Home Assistant's birth message): SUBSCRIBE and
 * PUBACK out, incoming PUBLISH in (SUBACK: control-packets.ts). Checked as strictly as PUBLISH
 * (packets.ts): every length and string, PacketError when one is out of bounds.
 */
import { generate, type QoS } from 'mqtt-packet';
import { checkPacketId, checkQos, checkRemaining, fieldBytes, PacketError, topicBytes } from './packets.js';

/** PUBACK of an incoming QoS 1 PUBLISH. */
export function encodePuback(id: number): Buffer {
  checkPacketId(id);
  return Buffer.from([0x40, 2, id >>> 8, id & 0xff]);
}

/**
 * A topic filter (MQTT 3.1.1 §4.7): a topic's rules (no control characters, well-formed UTF-8, at
 * most 65,535 bytes), with `+` only as a whole level and `#` only as the whole last level.
 */
function filterBytes(filter: string): Buffer {
  if (typeof filter !== 'string') throw new PacketError('topic filter is not a string');
  if (filter.length === 0) throw new PacketError('topic filter is empty');
  const plain = filter.replace(/[+#]/g, 'x');
  topicBytes(plain);
  const levels = filter.split('/');
  levels.forEach((l, i) => {
    if (l.includes('#') && (l !== '#' || i !== levels.length - 1)) throw new PacketError(`topic filter has '#' other than as its whole last level`);
    if (l.includes('+') && l !== '+') throw new PacketError(`topic filter has '+' other than as a whole level`);
  });
  return fieldBytes(filter, 'topic filter');
}

/** A SUBSCRIBE for `filters`, checked like a PUBLISH, written by mqtt-packet. */
export function encodeSubscribe(packetId: number, filters: readonly { topic: string; qos: number }[]): Buffer {
  checkPacketId(packetId);
  if (filters.length === 0) throw new PacketError('SUBSCRIBE without a topic filter');
  let remaining = 2;
  for (const f of filters) {
    checkQos(f.qos, 'SUBSCRIBE');
    remaining += 2 + filterBytes(f.topic).length + 1;
  }
  checkRemaining(remaining, 'SUBSCRIBE');
  return generate({ cmd: 'subscribe', messageId: packetId, subscriptions: filters.map((f) => ({ topic: f.topic, qos: f.qos as QoS })) });
}

/** An incoming PUBLISH (body at `start`, `length` bytes; `flags` the low nibble of its first byte). */
export interface IncomingPublish {
  topic: string;
  payload: Buffer;
  qos: number;
  /** 0 for QoS 0. */
  packetId: number;
  /** Set on a retained message sent because of a SUBSCRIBE (not on one forwarded live). */
  retain: boolean;
}

/** Reads an incoming PUBLISH; throws on one that does not fit its own lengths. */
export function readPublish(buf: Buffer, start: number, length: number, flags: number): IncomingPublish {
  const qos = (flags >> 1) & 3;
  if (qos === 3) throw new Error('PUBLISH from broker with QoS 3');
  const end = start + length;
  if (length < 2) throw new Error('PUBLISH from broker shorter than its topic length');
  const tl = buf.readUInt16BE(start);
  let at = start + 2 + tl;
  if (at > end) throw new Error('PUBLISH from broker with a topic longer than the packet');
  const topic = buf.toString('utf8', start + 2, at);
  let packetId = 0;
  if (qos > 0) {
    if (at + 2 > end) throw new Error('PUBLISH from broker without its packet id');
    packetId = buf.readUInt16BE(at);
    at += 2;
  }
  return { topic, payload: buf.subarray(at, end), qos, packetId, retain: (flags & 1) === 1 };
}
