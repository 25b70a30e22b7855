/** Union tags of Envelope.message (docs/protocol.md §2). */
export const MESSAGE_STREAM = 4;
export const MESSAGE_STREAM_ACK = 5;

/** The Stream table of a vehicle frame. Byte fields are views into the frame, not copies. */
export interface StreamMessage {
  createdAt: number;
  senderId: string;
  payload: Uint8Array;
  deviceType: string;
  deviceId: string;
  deliveredAtEpochMs: bigint;
}

/** A readable vehicle frame. `txidBytes` is echoed byte for byte in the response. */
export interface Frame {
  txid: string;
  txidBytes: Uint8Array;
  /** Envelope.topic: the record type, e.g. `V`. */
  recordType: string;
  messageType: number;
  messageId: Uint8Array;
  /** Present exactly when messageType is Stream. */
  stream?: StreamMessage;
}

export { UnreadableFrame } from '../errors.js';
