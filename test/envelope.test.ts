import t from 'tap';
import { Builder, ByteBuffer } from 'flatbuffers';
import {
  MESSAGE_STREAM,
  MESSAGE_STREAM_ACK,
  peekTxid,
  readFrame,
  writeAck,
  writeError,
  writeOtherFrame,
  writeStreamFrame,
  type Frame,
  UnreadableFrame,
} from '../src/envelope/index.js';
import { loadConformance } from './helpers/fixtures.js';

// Contract §2. Golden frames are read twice: by readFrame and by a plain reader on the flatbuffers
// runtime (trusting the frame), and both must agree.

const utf8 = new TextEncoder();
const conformance = loadConformance();

/** Positions inside a well-formed frame, read with the flatbuffers runtime (no checks). */
class Layout {
  readonly bb: ByteBuffer;
  constructor(readonly buf: Uint8Array) {
    this.bb = new ByteBuffer(buf);
  }
  get root(): number {
    return this.bb.readUint32(0);
  }
  vtable(table: number): number {
    return table - this.bb.readInt32(table);
  }
  /** Absolute position of a field's slot, 0 when absent. */
  field(table: number, slot: number): number {
    const o = this.bb.__offset(table, 4 + 2 * slot);
    return o ? table + o : 0;
  }
  /** Position of a vector's length word. */
  vector(table: number, slot: number): number {
    const p = this.field(table, slot);
    return p + this.bb.readUint32(p);
  }
  bytes(table: number, slot: number): Uint8Array | undefined {
    const p = this.field(table, slot);
    if (!p) return undefined;
    const v = p + this.bb.readUint32(p);
    return this.buf.subarray(v + 4, v + 4 + this.bb.readUint32(v));
  }
  message(): number {
    const p = this.field(this.root, 3);
    return p ? p + this.bb.readUint32(p) : 0;
  }
  u8(table: number, slot: number): number {
    const p = this.field(table, slot);
    return p ? this.bb.readUint8(p) : 0;
  }
  u32(table: number, slot: number): number {
    const p = this.field(table, slot);
    return p ? this.bb.readUint32(p) : 0;
  }
}

function setU32(buf: Uint8Array, at: number, v: number): Uint8Array {
  const copy = buf.slice();
  new DataView(copy.buffer, copy.byteOffset, copy.byteLength).setUint32(at, v >>> 0, true);
  return copy;
}
function setI32(buf: Uint8Array, at: number, v: number): Uint8Array {
  const copy = buf.slice();
  new DataView(copy.buffer, copy.byteOffset, copy.byteLength).setInt32(at, v | 0, true);
  return copy;
}
function setU16(buf: Uint8Array, at: number, v: number): Uint8Array {
  const copy = buf.slice();
  new DataView(copy.buffer, copy.byteOffset, copy.byteLength).setUint16(at, v, true);
  return copy;
}

/** The few assertions the helpers need, from any tap test object. */
interface Asserts {
  equal(found: unknown, wanted: unknown, msg: string): boolean;
  ok(v: unknown, msg: string): boolean;
  fail(msg: string): boolean;
}

/** readFrame's answer as a value: the frame, or the one error it may throw. */
type ReadResult = Frame | UnreadableFrame;
function read(buf: Uint8Array): ReadResult {
  try {
    return readFrame(buf);
  } catch (err) {
    if (err instanceof UnreadableFrame) return err;
    throw err;
  }
}
function ok(t: Asserts, r: ReadResult): Frame {
  if (r instanceof UnreadableFrame) {
    t.fail(`expected a frame, got ${r.flaw}: ${r.message}`);
    throw new Error('unreadable', { cause: r });
  }
  return r;
}
function failsWith(t: Asserts, r: ReadResult, flaw: string, msg: string) {
  t.ok(r instanceof UnreadableFrame, msg);
  if (r instanceof UnreadableFrame) {
    t.equal(r.flaw, flaw, `${msg}: flaw`);
    t.equal(r.code, 'frame_unreadable', `${msg}: code`);
    t.ok(r.message.length > 0, `${msg}: has a reason`);
  }
}

const sample = () =>
  writeStreamFrame({
    txid: 'tx-1',
    recordType: 'V',
    payload: Uint8Array.from([0x0a, 0x02, 0x08, 0x04]),
    senderId: 'vehicle_device.5YJ3E1EA7KF000001',
    createdAt: 1700000000,
    deviceType: 'vehicle_device',
    deviceId: '5YJ3E1EA7KF000001',
    messageId: 'm-1',
  });

t.test('public vectors', async (t) => {
  for (const c of conformance.cases) {
    t.test(c.name, async (t) => {
      const buf = new Uint8Array(Buffer.from(c.frame_b64, 'base64'));
      const f = ok(t, read(buf));
      const l = new Layout(buf);
      const msg = l.message();
      t.equal(f.txid, c.expect.txid, 'txid');
      t.same(Buffer.from(f.txidBytes), Buffer.from(l.bytes(l.root, 0)!), 'txid bytes');
      t.equal(f.recordType, Buffer.from(l.bytes(l.root, 1)!).toString(), 'record type');
      if (c.expect.topic !== undefined) t.equal(f.recordType, c.expect.topic, 'record type as expected');
      t.equal(f.messageType, MESSAGE_STREAM, 'message type 4');
      t.equal(l.u8(l.root, 2), MESSAGE_STREAM);
      t.same(Buffer.from(f.messageId), Buffer.from(l.bytes(l.root, 4) ?? []), 'message id');
      t.ok(f.stream, 'has a stream');
      const s = f.stream!;
      t.equal(s.senderId, `vehicle_device.${c.vin}`, 'sender id');
      t.equal(s.createdAt, 1700000000, 'created_at');
      t.equal(s.createdAt, l.u32(msg, 0));
      t.equal(s.payload.length, l.bytes(msg, 2)!.length, 'payload length');
      t.same(Buffer.from(s.payload), Buffer.from(l.bytes(msg, 2)!), 'payload bytes');
      t.equal(s.deviceType, Buffer.from(l.bytes(msg, 3) ?? []).toString(), 'device type');
      t.equal(s.deviceId, Buffer.from(l.bytes(msg, 4) ?? []).toString(), 'device id');
      t.equal(s.deliveredAtEpochMs, 0n, 'delivered_at absent');
    });
  }
  // Lengths seen in the vectors, so a change in them is noticed.
  const lengths = conformance.cases.map((c) => {
    try {
      return readFrame(Buffer.from(c.frame_b64, 'base64')).stream!.payload.length;
    } catch {
      return -1;
    }
  });
  t.same(lengths, [140, 43, 22, 92, 47, 4, 0], 'payload lengths');
});

t.test('writeStreamFrame → readFrame round trip', async (t) => {
  const payload = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) & 0xff);
  const f = ok(
    t,
    readFrame(
      writeStreamFrame({
        txid: 'a1b2',
        recordType: 'alerts',
        payload,
        senderId: 'vehicle_device.VIN1',
        createdAt: 4_000_000_000, // above 2^31: a uint32 on the wire
        deviceType: 'vehicle_device',
        deviceId: 'VIN1',
        deliveredAtEpochMs: 2n ** 64n - 1n,
        messageId: 'mid',
      }),
    ),
  );
  t.equal(f.txid, 'a1b2');
  t.equal(f.recordType, 'alerts');
  t.equal(f.messageType, MESSAGE_STREAM);
  t.equal(Buffer.from(f.messageId).toString(), 'mid');
  t.same(Buffer.from(f.stream!.payload), Buffer.from(payload));
  t.equal(f.stream!.senderId, 'vehicle_device.VIN1');
  t.equal(f.stream!.createdAt, 4_000_000_000);
  t.equal(f.stream!.deviceType, 'vehicle_device');
  t.equal(f.stream!.deviceId, 'VIN1');
  t.equal(f.stream!.deliveredAtEpochMs, 2n ** 64n - 1n);

  const min = ok(t, read(writeStreamFrame({ txid: '', recordType: 'V', payload: new Uint8Array(0) })));
  t.equal(min.txid, '');
  t.equal(min.txidBytes.length, 0);
  t.equal(min.recordType, 'V');
  t.equal(min.stream!.payload.length, 0, 'empty payload');
  t.equal(min.stream!.senderId, '');
  t.equal(min.stream!.createdAt, 0);
  t.equal(min.stream!.deliveredAtEpochMs, 0n);
  t.equal(min.messageId.length, 0);

  const big = new Uint8Array(1_000_000).fill(0x5a);
  const bf = ok(t, read(writeStreamFrame({ txid: 'big', recordType: 'V', payload: big })));
  t.equal(bf.stream!.payload.length, 1_000_000, 'a 1 MB payload');

  // A frame inside a larger buffer (as a socket library may hand it over) reads the same.
  const frame = sample();
  const host = new Uint8Array(frame.length + 11);
  host.set(frame, 5);
  const view = host.subarray(5, 5 + frame.length);
  const vf = ok(t, read(view));
  t.equal(vf.txid, 'tx-1');
  t.equal(vf.stream!.senderId, 'vehicle_device.5YJ3E1EA7KF000001');
  t.same(Buffer.from(vf.stream!.payload), Buffer.from([0x0a, 0x02, 0x08, 0x04]));
});

t.test('writeAck reads back', async (t) => {
  const buf = writeAck('p1', 'V');
  const f = ok(t, read(buf));
  t.equal(f.txid, 'p1');
  t.equal(f.recordType, 'V', 'topic = record type');
  t.equal(f.messageType, MESSAGE_STREAM_ACK, 'message_type 5');
  t.equal(f.stream, undefined);
  const l = new Layout(buf);
  t.equal(l.field(l.root, 4), 0, 'no message_id');
  const ack = l.message();
  t.ok(ack > 0, 'has a StreamAck table');
  t.equal(l.bb.readUint16(l.vtable(ack)), 4, 'an empty StreamAck (vtable with no slots)');

  const empty = ok(t, read(writeAck('', '')));
  t.equal(empty.txid, '');
  t.equal(empty.recordType, '', 'ack with empty topic (non-Stream frames)');
  t.equal(empty.messageType, MESSAGE_STREAM_ACK);
});

t.test('writeError reads back', async (t) => {
  const reason = 'payload does not decode: ü';
  const buf = writeError('p6', reason);
  const f = ok(t, read(buf));
  t.equal(f.txid, 'p6');
  t.equal(f.recordType, '', 'empty topic');
  t.equal(f.messageType, MESSAGE_STREAM, 'message_type 4');
  t.equal(Buffer.from(f.stream!.payload).toString('utf8'), reason, 'payload = reason');
  t.equal(new Layout(buf).field(new Layout(buf).root, 4), 0, 'no message_id');

  const anon = ok(t, read(writeError(new Uint8Array(0), 'unreadable frame')));
  t.equal(anon.txid, '', 'empty txid when the frame could not be read');
  t.equal(Buffer.from(anon.stream!.payload).toString(), 'unreadable frame');
});

t.test('writeOtherFrame: a non-Stream message', async (t) => {
  const f = ok(t, read(writeOtherFrame('o1', 'V', 7)));
  t.equal(f.txid, 'o1');
  t.equal(f.messageType, 7);
  t.equal(f.stream, undefined, 'no stream for a non-Stream type');
});

t.test('non-ASCII txid bytes are echoed byte for byte', async (t) => {
  const txid = 'té€🚗';
  const bytes = utf8.encode(txid);
  const f = ok(t, read(writeStreamFrame({ txid: bytes, recordType: 'V', payload: new Uint8Array(0) })));
  t.equal(f.txid, txid, 'decoded as UTF-8');
  t.same([...f.txidBytes], [...bytes]);
  for (const [name, resp] of [
    ['ack', writeAck(f.txidBytes, f.recordType)],
    ['error', writeError(f.txidBytes, 'x')],
  ] as const) {
    const r = ok(t, read(resp));
    t.same([...r.txidBytes], [...bytes], `${name} echoes the bytes`);
    t.equal(r.txid, txid);
  }
  t.same([...peekTxid(sample())], [...utf8.encode('tx-1')]);

  // Bytes that are not valid UTF-8 still go back exactly as sent.
  const raw = Uint8Array.from([0x74, 0xff, 0xc3, 0x28, 0xe2, 0x82]);
  const g = ok(t, read(writeStreamFrame({ txid: raw, recordType: 'V', payload: new Uint8Array(0) })));
  t.same([...g.txidBytes], [...raw]);
  t.same([...ok(t, read(writeAck(g.txidBytes, 'V'))).txidBytes], [...raw], 'ack keeps invalid UTF-8 bytes');
  t.same([...peekTxid(writeStreamFrame({ txid: raw, recordType: 'V', payload: new Uint8Array(0) }))], [...raw]);
});

t.test('unreadable frames', async (t) => {
  const good = sample();
  const l = new Layout(good);
  const root = l.root;
  const msg = l.message();

  failsWith(t, read(new Uint8Array(0)), 'empty', 'empty buffer');
  for (let n = 1; n < 8; n++) failsWith(t, read(good.subarray(0, n)), 'truncated', `${n} bytes`);

  failsWith(t, read(setU32(good, 0, good.length + 100)), 'bad_offset', 'root offset past the end');
  failsWith(t, read(setU32(good, 0, 0xffffffff)), 'bad_offset', 'root offset 2^32-1');
  failsWith(t, read(setU32(good, 0, good.length - 2)), 'bad_offset', 'root table runs past the end');

  failsWith(t, read(setI32(good, root, root + 64)), 'bad_offset', 'vtable before the start');
  failsWith(t, read(setI32(good, root, root - good.length)), 'bad_offset', 'vtable past the end');
  failsWith(t, read(setI32(good, root, -0x7fffffff)), 'bad_offset', 'vtable far past the end');
  failsWith(t, read(setU16(good, l.vtable(root), 0xfff0)), 'bad_offset', 'vtable size past the end');
  failsWith(t, read(setU16(good, l.vtable(root), 3)), 'bad_offset', 'odd vtable size');
  failsWith(t, read(setU16(good, l.vtable(root) + 2, 0xfff0)), 'bad_offset', 'table size past the end');
  failsWith(t, read(setU16(good, l.vtable(root) + 4, 0xfff0)), 'bad_offset', 'field offset outside its table');

  failsWith(t, read(setU32(good, l.vector(root, 0), 0xfffffff0)), 'truncated', 'txid length past the end');
  failsWith(t, read(setU32(good, l.vector(root, 1), good.length)), 'truncated', 'topic length past the end');
  failsWith(t, read(setU32(good, l.vector(root, 4), 0x7fffffff)), 'truncated', 'message_id length past the end');
  failsWith(t, read(setU32(good, l.field(root, 0), 0xfffffff0)), 'bad_offset', 'txid vector offset past the end');
  failsWith(t, read(setU32(good, l.field(root, 3), 0x7ffffff0)), 'bad_stream', 'Stream table offset past the end');

  // Stream table broken while the envelope is fine.
  failsWith(t, read(setU32(good, l.vector(msg, 2), 0xffffffff)), 'bad_stream', 'payload length past the end');
  failsWith(t, read(setU32(good, l.field(msg, 1), good.length)), 'bad_stream', 'sender_id offset past the end');
  failsWith(t, read(setI32(good, msg, msg + 1000)), 'bad_stream', 'Stream vtable outside the frame');
  failsWith(t, read(setU16(good, l.vtable(msg) + 2, 0xfff0)), 'bad_stream', 'Stream table size past the end');
  // The builder writes back to front: the last bytes are the sender_id, inside the Stream.
  failsWith(t, read(good.subarray(0, good.length - 1)), 'bad_stream', 'one byte short');

  // An envelope with no message at all.
  for (const type of [MESSAGE_STREAM, MESSAGE_STREAM_ACK, 0]) {
    const b = new Builder(64);
    const tx = b.createByteVector(utf8.encode('nm'));
    const topic = b.createByteVector(utf8.encode('V'));
    b.startObject(5);
    b.addFieldOffset(0, tx, 0);
    b.addFieldOffset(1, topic, 0);
    b.addFieldInt8(2, type, 0);
    b.finish(b.endObject());
    failsWith(t, read(b.asUint8Array()), 'no_message', `no message, type ${type}`);
  }
  // An envelope table with no fields at all.
  const b = new Builder(16);
  b.startObject(5);
  b.finish(b.endObject());
  failsWith(t, read(b.asUint8Array()), 'no_message', 'empty envelope table');

  failsWith(t, read(new Uint8Array(64)), 'bad_offset', 'all zero bytes');
  failsWith(t, read(new Uint8Array(64).fill(0xff)), 'bad_offset', 'all 0xff bytes');
});

t.test('peekTxid', async (t) => {
  const good = sample();
  const l = new Layout(good);
  t.equal(Buffer.from(peekTxid(good)).toString(), 'tx-1', 'good frame');
  const brokenStream = setU32(good, l.vector(l.message(), 2), 0xffffffff);
  t.ok(read(brokenStream) instanceof UnreadableFrame, 'a broken stream does not read');
  t.equal(Buffer.from(peekTxid(brokenStream)).toString(), 'tx-1', 'txid of a frame whose stream is broken');
  t.equal(peekTxid(setU32(good, 0, good.length + 4)).length, 0, 'root past the end: empty');
  t.equal(peekTxid(setU32(good, l.vector(l.root, 0), 0xffffff)).length, 0, 'txid vector broken: empty');
  t.equal(peekTxid(new Uint8Array(0)).length, 0, 'empty buffer');
  t.equal(peekTxid(good.subarray(0, 7)).length, 0, 'under 8 bytes');
  for (const c of conformance.cases) {
    t.equal(Buffer.from(peekTxid(Buffer.from(c.frame_b64, 'base64'))).toString(), c.expect.txid, `${c.name} txid`);
  }
});
