/**
 * Counters and ack latencies of emulated vehicles, per record type. Everything here merges, so a
 * fleet (or a benchmark driving thousands of vehicles) adds up its vehicles without keeping every
 * sample.
 */
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';

/**
 * Latencies in ms, kept by perf_hooks' HDR histogram in whole microseconds (it records integers
 * ≥ 1): 3 significant figures, merged with `add`. The exact extremes are kept beside it.
 */
export class LatencyHistogram {
  private readonly h: RecordableHistogram = createHistogram();
  minMs = Infinity;
  maxMs = 0;

  record(ms: number): void {
    if (!(ms >= 0)) return;
    this.h.record(Math.max(1, Math.round(ms * 1000)));
    if (ms < this.minMs) this.minMs = ms;
    if (ms > this.maxMs) this.maxMs = ms;
  }

  merge(o: LatencyHistogram): void {
    this.h.add(o.h);
    this.minMs = Math.min(this.minMs, o.minMs);
    this.maxMs = Math.max(this.maxMs, o.maxMs);
  }

  get count(): number {
    return this.h.count;
  }

  /** The q-quantile (0..1) in ms, or undefined without samples. */
  quantile(q: number): number | undefined {
    if (this.count === 0) return undefined;
    if (q <= 0) return this.minMs;
    // A bucket's value can lie outside what was seen; the exact extremes are known.
    return Math.min(Math.max(this.h.percentile(Math.min(100, q * 100)) / 1000, this.minMs), this.maxMs);
  }

  get meanMs(): number | undefined {
    return this.count ? this.h.mean / 1000 : undefined;
  }
}

/** How frames of one record type fared. Every generated frame ends in exactly one final outcome. */
export interface FrameCounts {
  /** Frames made (or restored from a queue file) in this run. */
  generated: number;
  /** Frames sent at least once; a resend is not counted here. */
  sent: number;
  /** Retransmissions of a frame already sent (same txid, same bytes). */
  resent: number;
  acked: number;
  /** Error response: final, never resent (docs/protocol.md §2). */
  errored: number;
  /** Waited longer than the time-to-live. */
  expired: number;
  /** Reached the retry limit without a response. */
  gaveUp: number;
  /** Pushed out of a full queue. */
  dropped: number;
}

const FINAL_OUTCOMES = ['acked', 'errored', 'expired', 'gaveUp', 'dropped'] as const;
export type FinalOutcome = (typeof FINAL_OUTCOMES)[number];

function emptyCounts(): FrameCounts {
  return { generated: 0, sent: 0, resent: 0, acked: 0, errored: 0, expired: 0, gaveUp: 0, dropped: 0 };
}

/** Frames generated that reached no final outcome (still queued or in flight). */
export function pendingOf(c: FrameCounts): number {
  return c.generated - FINAL_OUTCOMES.reduce((n, k) => n + c[k], 0);
}

export class RecordTypeStats {
  readonly counts = emptyCounts();
  /** Time from a frame's latest transmission to its ack. */
  readonly latency = new LatencyHistogram();

  merge(o: RecordTypeStats): void {
    for (const k of Object.keys(this.counts) as (keyof FrameCounts)[]) this.counts[k] += o.counts[k];
    this.latency.merge(o.latency);
  }
}

/** One vehicle's statistics, or the sum of several. */
export class EmulatorStats {
  readonly byType = new Map<string, RecordTypeStats>();
  /** WebSocket connections opened. */
  connects = 0;
  /** Connection attempts that failed before opening (refused, TLS, HTTP status). */
  connectFailures = 0;
  /** Open connections that closed while the vehicle was running. */
  disconnects = 0;
  /** Frames restored from a queue file (also counted as generated). */
  restored = 0;
  /** Responses to a txid no longer waiting (a resent copy answered twice, or too late). */
  lateResponses = 0;
  /** Error responses with a txid that names no frame of this vehicle (e.g. empty: unreadable frame). */
  unmatchedErrors = 0;
  readonly errorReasons = new Map<string, number>();
  /** Failed connection attempts by reason. */
  readonly connectErrors = new Map<string, number>();
  lastConnectError?: string;

  type(recordType: string): RecordTypeStats {
    let s = this.byType.get(recordType);
    if (!s) this.byType.set(recordType, (s = new RecordTypeStats()));
    return s;
  }

  count(recordType: string, key: keyof FrameCounts, n = 1): void {
    this.type(recordType).counts[key] += n;
  }

  noteErrorReason(reason: string): void {
    // Reasons carry details (offsets, sizes); cap the distinct ones kept.
    if (this.errorReasons.size < 50 || this.errorReasons.has(reason)) {
      this.errorReasons.set(reason, (this.errorReasons.get(reason) ?? 0) + 1);
    }
  }

  noteConnectError(reason: string): void {
    this.connectFailures++;
    this.lastConnectError = reason;
    // Reasons may name ports or hosts; cap the distinct ones kept.
    if (this.connectErrors.size < 20 || this.connectErrors.has(reason)) {
      this.connectErrors.set(reason, (this.connectErrors.get(reason) ?? 0) + 1);
    }
  }

  merge(o: EmulatorStats): void {
    for (const [t, s] of o.byType) this.type(t).merge(s);
    this.connects += o.connects;
    this.connectFailures += o.connectFailures;
    this.disconnects += o.disconnects;
    this.restored += o.restored;
    this.lateResponses += o.lateResponses;
    this.unmatchedErrors += o.unmatchedErrors;
    for (const [r, n] of o.errorReasons) this.errorReasons.set(r, (this.errorReasons.get(r) ?? 0) + n);
    for (const [r, n] of o.connectErrors) this.connectErrors.set(r, (this.connectErrors.get(r) ?? 0) + n);
    this.lastConnectError = o.lastConnectError ?? this.lastConnectError;
  }

  /** All record types together. */
  total(): RecordTypeStats {
    const t = new RecordTypeStats();
    for (const s of this.byType.values()) t.merge(s);
    return t;
  }
}
