import { Builder } from 'flatbuffers';
import { MESSAGE_STREAM, MESSAGE_STREAM_ACK } from './types.js';

const utf8 = new TextEncoder();
const EMPTY = new Uint8Array(0);

function bytesOf(v: string | Uint8Array | undefined): Uint8Array {
  if (v === undefined) return EMPTY;
  return typeof v === 'string' ? utf8.encode(v) : v;
}

function envelope(b: Builder, txid: Uint8Array, topic: Uint8Array, messageType: number, message: number, messageId?: Uint8Array): Uint8Array {
  const txidOff = b.createByteVector(txid);
  const topicOff = b.createByteVector(topic);
  const idOff = messageId && messageId.length ? b.createByteVector(messageId) : 0;
  b.startObject(5);
  b.addFieldOffset(0, txidOff, 0);
  b.addFieldOffset(1, topicOff, 0);
  b.addFieldInt8(2, messageType, 0);
  b.addFieldOffset(3, message, 0);
  if (idOff) b.addFieldOffset(4, idOff, 0);
  b.finish(b.endObject());
  return b.asUint8Array();
}

/**
 * The ack of docs/protocol.md §2: the frame's txid and record type, an empty StreamAck. Laid out by hand (one
 * allocation, no builder): acks go out once per frame, and bench-micro measured the builder at
 * about 8% of the per-frame path. The layout is an ordinary aligned flatbuffer, read back by the
 * flatbuffers runtime in the tests.
 */
export function writeAck(txid: string | Uint8Array, recordType: string | Uint8Array): Uint8Array {
  const tx = typeof txid === 'string' ? Buffer.from(txid, 'utf8') : txid;
  const topicLen = typeof recordType === 'string' ? Buffer.byteLength(recordType, 'utf8') : recordType.length;
  const txAt = 44;
  const topicAt = txAt + 4 + ((tx.length + 3) & ~3);
  const size = topicAt + 4 + ((topicLen + 3) & ~3);
  const b = Buffer.alloc(size);
  b.writeUInt32LE(16, 0); // root table
  // Envelope vtable at 4: 4 slots (txid, topic, message_type, message).
  b.writeUInt16LE(12, 4);
  b.writeUInt16LE(20, 6);
  b.writeUInt16LE(4, 8); // txid
  b.writeUInt16LE(8, 10); // topic
  b.writeUInt16LE(16, 12); // message_type
  b.writeUInt16LE(12, 14); // message
  // Envelope table at 16.
  b.writeInt32LE(16 - 4, 16);
  b.writeUInt32LE(txAt - 20, 20);
  b.writeUInt32LE(topicAt - 24, 24);
  b.writeUInt32LE(40 - 28, 28);
  b[32] = MESSAGE_STREAM_ACK;
  // StreamAck: empty vtable at 36, table at 40.
  b.writeUInt16LE(4, 36);
  b.writeUInt16LE(4, 38);
  b.writeInt32LE(4, 40);
  b.writeUInt32LE(tx.length, txAt);
  b.set(tx, txAt + 4);
  b.writeUInt32LE(topicLen, topicAt);
  if (typeof recordType === 'string') b.write(recordType, topicAt + 4, 'utf8');
  else b.set(recordType, topicAt + 4);
  return b;
}

/** The error response of docs/protocol.md §2: txid (possibly empty), empty topic, a Stream whose payload is the reason. */
export function writeError(txid: string | Uint8Array, reason: string): Uint8Array {
  const b = new Builder(128);
  const payload = b.createByteVector(utf8.encode(reason));
  b.startObject(6);
  b.addFieldOffset(2, payload, 0);
  const stream = b.endObject();
  return envelope(b, bytesOf(txid), EMPTY, MESSAGE_STREAM, stream);
}

export interface StreamFrameInput {
  txid: string | Uint8Array;
  recordType: string;
  payload: Uint8Array;
  senderId?: string;
  createdAt?: number;
  deviceType?: string;
  deviceId?: string;
  deliveredAtEpochMs?: bigint;
  messageId?: string | Uint8Array;
}

/** A vehicle's frame: what the emulator and the tests send. */
export function writeStreamFrame(f: StreamFrameInput): Uint8Array {
  const b = new Builder(128 + f.payload.length);
  const sender = f.senderId !== undefined ? b.createByteVector(utf8.encode(f.senderId)) : 0;
  const payload = b.createByteVector(f.payload);
  const deviceType = f.deviceType !== undefined ? b.createByteVector(utf8.encode(f.deviceType)) : 0;
  const deviceId = f.deviceId !== undefined ? b.createByteVector(utf8.encode(f.deviceId)) : 0;
  b.startObject(6);
  if (f.createdAt !== undefined) b.addFieldInt32(0, f.createdAt | 0, 0);
  if (sender) b.addFieldOffset(1, sender, 0);
  b.addFieldOffset(2, payload, 0);
  if (deviceType) b.addFieldOffset(3, deviceType, 0);
  if (deviceId) b.addFieldOffset(4, deviceId, 0);
  if (f.deliveredAtEpochMs !== undefined) b.addFieldInt64(5, f.deliveredAtEpochMs, 0n);
  const stream = b.endObject();
  return envelope(b, bytesOf(f.txid), bytesOf(f.recordType), MESSAGE_STREAM, stream, bytesOf(f.messageId));
}

/** A frame whose message is some other union member (a vehicle's non-Stream message). */
export function writeOtherFrame(txid: string, recordType: string, messageType: number): Uint8Array {
  const b = new Builder(64);
  b.startObject(0);
  const msg = b.endObject();
  return envelope(b, bytesOf(txid), bytesOf(recordType), messageType, msg);
}
