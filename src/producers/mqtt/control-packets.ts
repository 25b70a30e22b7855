/**
 * CONNACK and SUBACK, read by mqtt-packet: they arrive once per connection, so a parser per packet
 * costs nothing. PUBLISH and its acknowledgements stay hand-written in packets.ts (the measured path).
 */
import { parser, type IConnackPacket, type ISubackPacket, type Packet } from 'mqtt-packet';
import { PacketType, remainingLengthSize, writeRemainingLength } from './packets.js';

const NAMES: Partial<Record<number, string>> = { [PacketType.CONNACK]: 'CONNACK', [PacketType.SUBACK]: 'SUBACK' };

/** The packet PacketReader cut (type, flags, body), parsed whole; throws on a malformed one. */
function parseWhole(type: number, flags: number, body: Buffer): Packet {
  const head = Buffer.allocUnsafe(1 + remainingLengthSize(body.length));
  head[0] = (type << 4) | flags;
  writeRemainingLength(head, 1, body.length);
  const p = parser({ protocolVersion: 4 });
  let packet: Packet | undefined;
  let error: Error | undefined;
  p.on('packet', (got: Packet) => (packet ??= got));
  p.on('error', (err: Error) => (error ??= err));
  p.parse(Buffer.concat([head, body]));
  if (error || !packet) throw new Error(`malformed ${NAMES[type] ?? `packet type ${type}`} from broker: ${error?.message ?? 'incomplete'}`, { cause: error });
  return packet;
}

/** The return code of a CONNACK (0: accepted; connackReason words the others). */
export function readConnack(flags: number, body: Buffer): number {
  const p = parseWhole(PacketType.CONNACK, flags, body) as IConnackPacket;
  // mqtt-packet lets a short packet through with fields missing.
  if (p.returnCode === undefined) throw new Error('malformed CONNACK from broker: no return code');
  return p.returnCode;
}

/** A SUBACK's packet id and its return codes, one per filter (0x80: refused). */
export function readSuback(flags: number, body: Buffer): { packetId: number; codes: number[] } {
  const p = parseWhole(PacketType.SUBACK, flags, body) as ISubackPacket;
  if (p.messageId === undefined || p.messageId < 0) throw new Error('malformed SUBACK from broker: no packet id');
  if (p.granted.length === 0) throw new Error('SUBACK from broker without a return code');
  return { packetId: p.messageId, codes: p.granted as number[] };
}
