import type { FrameOutcome, VehicleSession } from './session.js';

/** What the server reports as it works: metrics and the /vehicles view listen here. */
export interface ServerEvents {
  vehicleConnected(s: VehicleSession): void;
  vehicleDisconnected(s: VehicleSession): void;
  frameReceived(bytes: number): void;
  frameDone(recordType: string, outcome: FrameOutcome): void;
  recordStarted(): void;
  recordFinished(): void;
  recordPublished(recordType: string, fields: number, seconds: number): void;
  producerFailed(err: unknown): void;
  rateLimited(): void;
  senderMismatch(): void;
}

export const noEvents: ServerEvents = {
  vehicleConnected() {},
  vehicleDisconnected() {},
  frameReceived() {},
  frameDone() {},
  recordStarted() {},
  recordFinished() {},
  recordPublished() {},
  producerFailed() {},
  rateLimited() {},
  senderMismatch() {},
};
