import type { FrameOutcome } from '../server/session.js';

/** Label values and buckets of the server's metrics: what a vehicle can and cannot make appear. */

export const METRIC_PREFIX = 'fleet_telemetry_';
/**
 * Label values of record_type. A vehicle names its frame's record type, so anything unknown is
 * "other" and a vehicle cannot grow the label set; "none" is a frame whose type was never read.
 */
export const RECORD_TYPE_LABELS = ['V', 'alerts', 'errors', 'connectivity', 'other', 'none'] as const;
const OTHER = 4;
const NONE = 5;

export function typeIndex(t: string): number {
  switch (t) {
    case 'V':
      return 0;
    case 'alerts':
      return 1;
    case 'errors':
      return 2;
    case 'connectivity':
      return 3;
    case '':
      return NONE;
    default:
      return OTHER;
  }
}

// A Record, so the compiler insists on a slot for every outcome the session can report.
export const OUTCOME_INDEX: Record<FrameOutcome, number> = {
  acked: 0,
  unacked: 1,
  error_too_big: 2,
  error_unreadable: 3,
  error_undecodable: 4,
  acked_not_stream: 5,
  acked_unrouted: 6,
  error_invalid: 7,
  acked_resend: 8,
};
export const FRAME_OUTCOMES = Object.keys(OUTCOME_INDEX) as FrameOutcome[];
/** Outcomes per record type: the stride of the frames table. */
export const OUTCOME_COUNT = FRAME_OUTCOMES.length;

/** Seconds; the MQTT publish deadline defaults to 2.5 s and the dispatch guard sits 1 s above it. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Failure reasons named by the built-in producers and the Dispatcher. */
export const KNOWN_REASONS = new Set(['broker_unavailable', 'connection_lost', 'publish_timeout', 'shutting_down', 'dispatch_timeout']);
/** Plugins may name their own reasons (err.code); past this many distinct ones they become "other". */
export const MAX_REASONS = 32;
