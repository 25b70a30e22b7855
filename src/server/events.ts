import type { VehicleRecord } from '../record/types.js';
import type { FrameOutcome, VehicleSession } from './session.js';

/** What the server reports as it works: metrics and the /vehicles view listen here. */
export interface ServerEvents {
  vehicleConnected(s: VehicleSession): void;
  vehicleDisconnected(s: VehicleSession): void;
  frameReceived(bytes: number): void;
  frameDone(recordType: string, outcome: FrameOutcome): void;
  recordStarted(): void;
  recordFinished(): void;
  /** `seconds`: producers only; `ackSeconds`: from the frame's arrival to its ack (queueing included). */
  recordPublished(recordType: string, fields: number, seconds: number, ackSeconds: number): void;
  /** Every producer took the record (its frame is acked): the fleet view keeps its values. Per record: cheap. */
  recordAcked(record: VehicleRecord, s: VehicleSession): void;
  producerFailed(err: unknown): void;
  /** One producer refused a record, or did not settle in time (from the Dispatcher). */
  producerRejected(producer: string, err: unknown): void;
  rateLimited(): void;
  senderMismatch(): void;
  /** A resent frame joined its original, still being published, instead of publishing again. */
  resendJoined(): void;
  /** A vehicle's TLS handshake failed; `reason` is a HandshakeFailure reason. */
  handshakeFailed(reason: string): void;
  /**
   * A connection stopped reading to wait for admission: at its own bound of records in flight
   * ('vehicle'), or because the server or a producer had no room ('server').
   */
  admissionWaited(bound: 'vehicle' | 'server'): void;
  /** A log line about a vehicle was left out by the log limits (the line's event). */
  logSuppressed(event: string): void;
  /** An older connection of a vehicle was closed: a newer one took over (presence.close_older_after_ms). */
  olderConnectionClosed(): void;
}

export const noEvents: ServerEvents = {
  vehicleConnected() {},
  vehicleDisconnected() {},
  frameReceived() {},
  frameDone() {},
  recordStarted() {},
  recordFinished() {},
  recordPublished() {},
  recordAcked() {},
  producerFailed() {},
  producerRejected() {},
  rateLimited() {},
  senderMismatch() {},
  resendJoined() {},
  handshakeFailed() {},
  admissionWaited() {},
  logSuppressed() {},
  olderConnectionClosed() {},
};
