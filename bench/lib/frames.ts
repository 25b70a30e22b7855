import { writeStreamFrame } from '../../src/envelope/index.js';
import { vPayloadBytes } from './fields.js';

/** Digits of the sequence number at the end of every txid: a UUID-shaped, 36-byte txid. */
const SEQ_DIGITS = 12;

/**
 * One vehicle's frame, encoded once. Each send rewrites the last 12 txid bytes in place with the
 * frame's sequence number, so every frame has a distinct txid at the cost of 12 byte stores.
 * (ws copies a frame while masking it, so the buffer may be rewritten right after a send.)
 */
export class FrameTemplate {
  readonly buf: Uint8Array;
  private readonly seqAt: number;

  constructor(vin: string, vehicleIndex: number, fields: number) {
    const prefix = `${(vehicleIndex >>> 0).toString(16).padStart(8, '0')}-be9c-4000-8000-`;
    const txid = prefix + '9'.repeat(SEQ_DIGITS);
    this.buf = writeStreamFrame({
      txid,
      recordType: 'V',
      payload: vPayloadBytes(vin, fields),
      senderId: `vehicle_device.${vin}`,
      createdAt: 1700000000,
      deviceType: 'vehicle_device',
      deviceId: vin,
    });
    const at = Buffer.from(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength).indexOf(txid);
    if (at < 0) throw new Error('txid not found in the encoded frame');
    this.seqAt = at + prefix.length;
  }

  /** The frame with sequence number `seq` (< 10^12) in its txid. */
  frame(seq: number): Uint8Array {
    const b = this.buf;
    for (let i = this.seqAt + SEQ_DIGITS - 1; i >= this.seqAt; i--) {
      const q = Math.floor(seq / 10);
      b[i] = 48 + (seq - q * 10);
      seq = q;
    }
    return b;
  }
}

export const RESPONSE_ACK = 1;
export const RESPONSE_ERROR = 2;
export const RESPONSE_OTHER = 3;

/**
 * Reads just what the driver needs from a server response: ack or error, and the sequence
 * number in the txid (-1 when the txid is not one of ours, e.g. the empty txid of an error).
 * No copies, no objects: a few reads of the flatbuffer's root table and txid vector.
 */
export function readResponse(b: Buffer, out: { kind: number; seq: number }): void {
  out.kind = RESPONSE_OTHER;
  out.seq = -1;
  const len = b.length;
  if (len < 12) return;
  const root = b.readUInt32LE(0);
  if (root + 4 > len) return;
  const vt = root - b.readInt32LE(root);
  if (vt < 0 || vt + 4 > len) return;
  const vtSize = b.readUInt16LE(vt);
  if (vt + vtSize > len) return;
  // Field 2: message type (u8). 5 = StreamAck, 4 = Stream (the error response).
  const typeOff = vtSize > 8 ? b.readUInt16LE(vt + 8) : 0;
  const type = typeOff ? b[root + typeOff] : 0;
  out.kind = type === 5 ? RESPONSE_ACK : type === 4 ? RESPONSE_ERROR : RESPONSE_OTHER;
  // Field 0: txid bytes.
  const txOff = vtSize > 4 ? b.readUInt16LE(vt + 4) : 0;
  if (!txOff || root + txOff + 4 > len) return;
  const p = root + txOff;
  const vec = p + b.readUInt32LE(p);
  if (vec + 4 > len) return;
  const n = b.readUInt32LE(vec);
  if (n !== 36 || vec + 4 + n > len) return;
  let seq = 0;
  for (let i = vec + 4 + 36 - SEQ_DIGITS; i < vec + 4 + 36; i++) {
    const d = b[i] - 48;
    if (d < 0 || d > 9) return;
    seq = seq * 10 + d;
  }
  out.seq = seq;
}
