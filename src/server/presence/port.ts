import { FleetTelemetryError } from '../../errors.js';
/**
 * What a vehicle server tells presence about its connections: the tracker in the same process, or,
 * with workers, the primary (over IPC), which sees every worker's connections.
 */
export interface PresencePort {
  /**
   * A connection was accepted. Resolves once the presence it makes had its first attempt, so a
   * subscriber reads the vehicle online before its CONNECTED record.
   */
  opened(key: string, vin: string): Promise<void>;
  /** The connection handled its first frame. */
  active(key: string): void;
  /** The connection is gone (after its DISCONNECTED record). */
  closed(key: string): void;
  /** Resolves once the presences of what was told are published, or after `ms` (shutdown). */
  flush(ms: number): Promise<void>;
}

/** What closing an older connection came to: closed, kept (it had sent a frame since), or already gone. */
export type CloseOutcome = 'closed' | 'active' | 'gone';

/** The WebSocket close code and reason an older connection of a vehicle gets (4000–4999: the application's). */
export const SUPERSEDED_CLOSE = { code: 4000, reason: 'superseded by a newer connection of this vehicle' } as const;

/** A presence a worker could not publish (the primary tries again later, maybe through another). */
export class PresenceNotPublished extends FleetTelemetryError {
  declare readonly code: 'presence_not_published';
  constructor(message: string, opts?: { cause?: unknown }) {
    super('presence_not_published', message, opts);
  }
}
