import type { Logger } from 'pino';
import type { LogLimiter } from '../log-limit.js';
import type { Dispatcher } from './dispatch.js';
import type { ServerEvents } from './events.js';
import type { InflightGate } from './gate.js';
import type { PendingRecords } from './pending.js';
import type { PresencePort } from './presence/port.js';

/** What the session needs of a vehicle's connection; tests drive it without TLS. */
export interface VehicleSocket {
  send(data: Uint8Array): void;
  close(code: number, reason: string): void;
  /** Stop reading from the vehicle (rate limit, backpressure). */
  pause(): void;
  resume(): void;
}

export interface SessionInfo {
  vin: string;
  connectionId: string;
  clientVersion: string;
  networkInterface: string;
}

export interface SessionOptions {
  dispatcher: Dispatcher;
  logger: Logger;
  events: ServerEvents;
  rateLimit?: { messageLimit: number; intervalMs: number };
  /** Admission: server-wide and per-vehicle bounds on records in flight, producers' room. */
  gate?: InflightGate;
  /** The process-wide log limit, shared by every session (see vehicle-log.ts). */
  logs?: LogLimiter;
  /** Records in flight server-wide, so a resend joins its original (see pending.ts). */
  pending?: PendingRecords;
  /** Told of each connection's open, first frame and close: presence per vehicle. */
  presence?: PresencePort;
}

export type FrameOutcome =
  'acked' | 'unacked' | 'error_too_big' | 'error_unreadable' | 'error_undecodable' | 'error_invalid' | 'acked_not_stream' | 'acked_unrouted' | 'acked_resend';
