import { performance } from 'node:perf_hooks';
import type { KeyPairPem } from '../tls/dev-certs.js';
import { ConnectFailureReport } from './connect-failures.js';
import { emulatorVins, type CertSource } from './identity.js';
import { seedOf } from './model.js';
import { EmulatorStats, pendingOf, type FrameCounts, type RecordTypeStats } from './stats.js';
import type { FrameStore } from './store.js';
import type { VehicleOptions, VehicleTuning } from './options.js';
import { EmulatedVehicle } from './vehicle.js';

export interface FleetOptions extends Partial<VehicleTuning> {
  url: string;
  /** CA certificate(s) that sign the server's certificate. */
  ca?: VehicleOptions['ca'];
  certs: CertSource;
  /** How many vehicles, with generated VINs (ignored when vins is given). Default 1. */
  vehicles?: number;
  vins?: string[];
  /** Stop making frames after this long; then drain. */
  durationMs?: number;
  /** After frames stop being made, wait at most this long for outstanding responses. Default 30 s. */
  drainTimeoutMs?: number;
  store?: FrameStore;
  /** Mixed into each VIN's seed: another value gives every car another day. */
  seed?: number;
  progressMs?: number;
  onProgress?: (p: FleetProgress) => void;
  /** A line the first time a connection fails for a new reason (later failures are counted in progress). */
  onConnectFailure?: (line: string) => void;
  headers?: Record<string, string>;
}

export interface FleetProgress {
  elapsedS: number;
  vehicles: number;
  connected: number;
  /** Connection attempts that failed, all reasons. */
  connectFailures: number;
  counts: FrameCounts & { pending: number };
  inFlight: number;
  ackedPerS: number;
  p50Ms?: number;
  p99Ms?: number;
  draining: boolean;
}

export interface CountsJson {
  generated: number;
  sent: number;
  acked: number;
  errored: number;
  resent: number;
  expired: number;
  gave_up: number;
  dropped: number;
  pending: number;
  latency_ms: { p50: number | null; p99: number | null; max: number | null; mean: number | null };
}

/** What a run did; `--json` prints exactly this. */
export interface FleetSummary {
  ok: boolean;
  url: string;
  vehicles: number;
  duration_s: number;
  totals: CountsJson;
  by_record_type: Record<string, CountsJson>;
  connections: {
    connects: number;
    connect_failures: number;
    disconnects: number;
    last_connect_error?: string;
    /** Failed attempts by reason. */
    failure_reasons: Record<string, number>;
  };
  restored: number;
  late_responses: number;
  unmatched_errors: number;
  error_reasons: Record<string, number>;
}

const ms = (x: number | undefined) => (x === undefined ? null : Math.round(x * 1000) / 1000);

function countsJson(s: RecordTypeStats): CountsJson {
  const c = s.counts;
  return {
    generated: c.generated,
    sent: c.sent,
    acked: c.acked,
    errored: c.errored,
    resent: c.resent,
    expired: c.expired,
    gave_up: c.gaveUp,
    dropped: c.dropped,
    pending: pendingOf(c),
    latency_ms: {
      p50: ms(s.latency.quantile(0.5)),
      p99: ms(s.latency.quantile(0.99)),
      max: ms(s.latency.count ? s.latency.maxMs : undefined),
      mean: ms(s.latency.meanMs),
    },
  };
}

/** Frames ended acked, all of them, and no response was a riddle. */
export function summaryOk(stats: EmulatorStats): boolean {
  const t = stats.total().counts;
  return t.acked === t.generated && stats.unmatchedErrors === 0;
}

/**
 * Many vehicles in one process: made, run until their frames are done (or the duration passes),
 * drained, stopped and summed up. The CLI's `emulate` is this plus argument parsing; tests and the
 * benchmark drive it (or EmulatedVehicle) directly.
 */
export class Fleet {
  private startedAt = 0;
  private endedAt = 0;
  private finishing = false;
  private forced = false;
  private draining = false;
  private progressTimer?: NodeJS.Timeout;
  private lastProgress = { at: 0, acked: 0 };
  private readonly failures = new ConnectFailureReport();
  private failureTimer?: NodeJS.Timeout;

  private constructor(
    readonly vehicles: EmulatedVehicle[],
    private readonly opts: FleetOptions,
  ) {
    for (const v of vehicles) v.on('connect-failed', (reason: string) => this.connectFailed(v.vin, reason));
  }

  private connectFailed(vin: string, reason: string): void {
    if (!this.failures.note(vin, reason) || this.failureTimer || !this.opts.onConnectFailure) return;
    // A fleet's first attempts fail together: wait a moment so the line counts them all.
    this.failureTimer = setTimeout(() => this.sayFailures(), 250);
  }

  private sayFailures(): void {
    clearTimeout(this.failureTimer);
    this.failureTimer = undefined;
    for (const line of this.failures.takeNew(this.vehicles.length)) this.opts.onConnectFailure?.(line);
  }

  /** Makes the vehicles (and their certificates); nothing connects before run() or start(). */
  static async create(opts: FleetOptions): Promise<Fleet> {
    const vins = opts.vins ?? emulatorVins(opts.vehicles ?? 1);
    const certs: KeyPairPem[] = [];
    // Key generation is CPU work in the thread pool; a few at a time keeps memory flat.
    for (let i = 0; i < vins.length; i += 16) certs.push(...(await Promise.all(vins.slice(i, i + 16).map((v) => opts.certs(v)))));
    const { url, ca, store, headers } = opts;
    const vehicles = vins.map(
      (vin, i) => new EmulatedVehicle({ ...opts, vin, url, ca, store, headers, cert: certs[i], seed: (seedOf(vin) ^ (opts.seed ?? 0)) >>> 0 }),
    );
    return new Fleet(vehicles, opts);
  }

  start(): void {
    if (this.startedAt) return;
    this.startedAt = performance.now();
    this.lastProgress = { at: this.startedAt, acked: 0 };
    for (const v of this.vehicles) v.start();
    if (this.opts.onProgress && this.opts.progressMs) {
      this.progressTimer = setInterval(() => this.opts.onProgress!(this.progress()), this.opts.progressMs);
    }
  }

  /** Stop making frames and drain (first Ctrl-C). */
  finish(): void {
    this.finishing = true;
  }

  /** Stop now, leaving outstanding frames unfinished (second Ctrl-C). */
  abort(): void {
    this.finishing = true;
    this.forced = true;
  }

  /** Runs to the end: frames done or duration passed, then drain, then stop. */
  async run(): Promise<FleetSummary> {
    this.start();
    const duration = this.opts.durationMs;
    await until(
      () =>
        this.finishing || this.vehicles.every((v) => v.finished || !v.generating) || (duration !== undefined && performance.now() - this.startedAt >= duration),
    );
    for (const v of this.vehicles) v.stopGenerating();
    this.draining = true;
    const drainEnd = performance.now() + (this.opts.drainTimeoutMs ?? 30_000);
    await until(() => this.forced || this.vehicles.every((v) => v.finished) || performance.now() >= drainEnd);
    await this.stop();
    return this.summary();
  }

  async stop(): Promise<void> {
    clearInterval(this.progressTimer);
    if (this.failureTimer) this.sayFailures();
    await Promise.all(this.vehicles.map((v) => v.stop()));
    this.endedAt ||= performance.now();
  }

  /** Every vehicle's statistics, summed. */
  stats(): EmulatorStats {
    const all = new EmulatorStats();
    for (const v of this.vehicles) all.merge(v.stats);
    return all;
  }

  progress(): FleetProgress {
    const now = performance.now();
    const total = this.stats().total();
    const c = total.counts;
    const dt = (now - this.lastProgress.at) / 1000;
    const ackedPerS = dt > 0 ? (c.acked - this.lastProgress.acked) / dt : 0;
    this.lastProgress = { at: now, acked: c.acked };
    return {
      elapsedS: (now - this.startedAt) / 1000,
      vehicles: this.vehicles.length,
      connected: this.vehicles.filter((v) => v.connected).length,
      connectFailures: this.failures.attempts,
      counts: { ...c, pending: pendingOf(c) },
      inFlight: this.vehicles.reduce((n, v) => n + v.inFlight, 0),
      ackedPerS,
      p50Ms: total.latency.quantile(0.5),
      p99Ms: total.latency.quantile(0.99),
      draining: this.draining,
    };
  }

  summary(): FleetSummary {
    const stats = this.stats();
    const byType: Record<string, CountsJson> = {};
    for (const t of [...stats.byType.keys()].sort()) byType[t] = countsJson(stats.byType.get(t)!);
    const end = this.endedAt || performance.now();
    return {
      ok: summaryOk(stats),
      url: this.opts.url,
      vehicles: this.vehicles.length,
      duration_s: Math.round(this.startedAt ? end - this.startedAt : 0) / 1000,
      totals: countsJson(stats.total()),
      by_record_type: byType,
      connections: {
        connects: stats.connects,
        connect_failures: stats.connectFailures,
        disconnects: stats.disconnects,
        ...(stats.lastConnectError ? { last_connect_error: stats.lastConnectError } : {}),
        failure_reasons: Object.fromEntries(stats.connectErrors),
      },
      restored: stats.restored,
      late_responses: stats.lateResponses,
      unmatched_errors: stats.unmatchedErrors,
      error_reasons: Object.fromEntries(stats.errorReasons),
    };
  }
}

function until(pred: () => boolean, everyMs = 50): Promise<void> {
  return new Promise((resolve) => {
    if (pred()) return resolve();
    const t = setInterval(() => {
      if (pred()) {
        clearInterval(t);
        resolve();
      }
    }, everyMs);
  });
}
