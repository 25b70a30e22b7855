import { ByteBuffer } from 'flatbuffers';
import { utf8 } from '../record/wire.js';
import { UnreadableFrame, type ReadErrorCode } from '../errors.js';
import { MESSAGE_STREAM, type Frame, type StreamMessage } from './types.js';

/*
 * Reads a vehicle frame without trusting a single offset in it. The flatbuffers runtime reads
 * whatever an offset points at, so every table, vtable and vector is bounds-checked here first;
 * a hostile frame throws UnreadableFrame, never another exception.
 */

const EMPTY = new Uint8Array(0);

/** A verified table: its position and vtable, with checked field access. */
class Table {
  private readonly vtSize: number;
  private readonly tableSize: number;
  private readonly vt: number;
  constructor(
    private readonly bb: ByteBuffer,
    readonly pos: number,
    what: string,
    code: ReadErrorCode = 'bad_offset',
  ) {
    const len = bb.capacity();
    if (pos < 0 || pos + 4 > len) throw new UnreadableFrame(code, `${what} table outside the frame`);
    const vt = pos - bb.readInt32(pos);
    if (vt < 0 || vt + 4 > len) throw new UnreadableFrame(code, `${what} vtable outside the frame`);
    this.vt = vt;
    this.vtSize = bb.readUint16(vt);
    this.tableSize = bb.readUint16(vt + 2);
    if (this.vtSize < 4 || this.vtSize & 1 || vt + this.vtSize > len) {
      throw new UnreadableFrame(code, `${what} vtable size invalid`);
    }
    if (this.tableSize < 4 || pos + this.tableSize > len) {
      throw new UnreadableFrame(code, `${what} table size invalid`);
    }
  }

  /** Absolute position of a field, or 0 when absent. */
  private field(slot: number, size: number): number {
    const vo = 4 + 2 * slot;
    if (vo + 2 > this.vtSize) return 0;
    const off = this.bb.readUint16(this.vt + vo);
    if (off === 0) return 0;
    if (off < 4 || off + size > this.tableSize) throw new UnreadableFrame('bad_offset', `field ${slot} outside its table`);
    return this.pos + off;
  }

  u8(slot: number): number {
    const p = this.field(slot, 1);
    return p ? this.bb.readUint8(p) : 0;
  }

  u32(slot: number): number {
    const p = this.field(slot, 4);
    return p ? this.bb.readUint32(p) : 0;
  }

  u64(slot: number): bigint {
    const p = this.field(slot, 8);
    return p ? this.bb.readUint64(p) : 0n;
  }

  /** Where a vector field's bytes start (their count in `vectorLength`), or -1 when absent. */
  private vector(slot: number): number {
    const p = this.field(slot, 4);
    if (!p) return -1;
    const len = this.bb.capacity();
    const vec = p + this.bb.readUint32(p);
    if (vec + 4 > len) throw new UnreadableFrame('bad_offset', `vector of field ${slot} outside the frame`);
    const n = this.bb.readUint32(vec);
    if (vec + 4 + n > len) throw new UnreadableFrame('truncated', `vector of field ${slot} runs past the end`);
    this.vectorLength = n;
    return vec + 4;
  }

  private vectorLength = 0;

  bytes(slot: number): Uint8Array {
    const at = this.vector(slot);
    return at < 0 ? EMPTY : this.bb.bytes().subarray(at, at + this.vectorLength);
  }

  /** A string field, decoded in place: no view of its bytes is made (a frame has four). */
  text(slot: number): string {
    const at = this.vector(slot);
    return at < 0 || this.vectorLength === 0 ? '' : utf8(this.bb.bytes(), at, at + this.vectorLength);
  }

  table(slot: number, what: string, code?: ReadErrorCode): Table | undefined {
    const p = this.field(slot, 4);
    if (!p) return undefined;
    return new Table(this.bb, p + this.bb.readUint32(p), what, code);
  }
}

function readStream(t: Table): StreamMessage {
  return {
    createdAt: t.u32(0),
    senderId: t.text(1),
    payload: t.bytes(2),
    deviceType: t.text(3),
    deviceId: t.text(4),
    deliveredAtEpochMs: t.u64(5),
  };
}

/** Reads one WebSocket message as an Envelope (docs/protocol.md §2); throws UnreadableFrame. */
export function readFrame(buf: Uint8Array): Frame {
  if (buf.length === 0) throw new UnreadableFrame('empty', 'empty frame');
  if (buf.length < 8) throw new UnreadableFrame('truncated', 'frame shorter than an envelope');
  try {
    const bb = new ByteBuffer(buf);
    const root = new Table(bb, bb.readUint32(0), 'envelope');
    const txidBytes = root.bytes(0);
    const recordType = root.text(1);
    const messageType = root.u8(2);
    // A Stream whose own table is unreadable is a broken stream, like one with a bad vector.
    const message = root.table(3, 'message', messageType === MESSAGE_STREAM ? 'bad_stream' : 'bad_offset');
    const messageId = root.bytes(4);
    if (!message) throw new UnreadableFrame('no_message', 'envelope has no message');
    const frame: Frame = { txid: txidBytes.length === 0 ? '' : utf8(txidBytes, 0, txidBytes.length), txidBytes, recordType, messageType, messageId };
    if (messageType === MESSAGE_STREAM) {
      try {
        frame.stream = readStream(message);
      } catch (err) {
        if (err instanceof UnreadableFrame) throw new UnreadableFrame('bad_stream', `stream: ${err.message}`, { cause: err });
        throw err;
      }
    }
    return frame;
  } catch (err) {
    if (err instanceof UnreadableFrame) throw err;
    // ByteBuffer only throws RangeError-like errors on reads we did not guard; still a bad frame.
    throw new UnreadableFrame('bad_offset', 'unreadable envelope', { cause: err });
  }
}

/**
 * The txid of a frame that will be refused anyway (too big), when it can be read: the error then
 * names the frame the vehicle sent.
 */
export function peekTxid(buf: Uint8Array): Uint8Array {
  if (buf.length < 8) return EMPTY;
  try {
    const bb = new ByteBuffer(buf);
    return new Table(bb, bb.readUint32(0), 'envelope').bytes(0);
  } catch {
    return EMPTY;
  }
}
