import type { KeyPairPem } from '../tls/dev-certs.js';
import type { FrameStore } from './store.js';

/** How a vehicle behaves; every field has a default (VEHICLE_DEFAULTS). */
export interface VehicleTuning {
  /** Frames per second; 0 sends as fast as the window allows. */
  rate: number;
  /** Stop making frames after this many (restored and injected frames not counted). */
  frames?: number;
  /** V fields per frame: a count (first N of the catalogue) or field names. */
  fields: number | readonly string[];
  /** Every Nth frame is an alerts record; 0: never. */
  alertsEvery: number;
  /** Every Nth frame is an errors record; 0: never. */
  errorsEvery: number;
  /** Most frames sent and not yet answered (pipelining). */
  window: number;
  /** A frame with no response after this long is sent again, same txid and bytes. */
  resendTimeoutMs: number;
  /** Resends of one frame before it is given up. */
  maxRetries: number;
  /** A frame older than this (from when it was made) is given up as expired. */
  ttlMs: number;
  /** Frames kept unacked (queued + in flight); beyond it the oldest queued frame is dropped. */
  queueSize: number;
  /** First reconnect delay; doubled per failed attempt up to backoffMaxMs, with jitter. */
  backoffMs: number;
  backoffMaxMs: number;
  handshakeTimeoutMs: number;
  /** WebSocket ping period; a ping unanswered by the next one drops the connection. 0: off. */
  pingIntervalMs: number;
  /** Simulated seconds the car model advances per frame. */
  simStepSeconds: number;
  /** false: make no frames of its own, only send what enqueueRecord is given. */
  generate: boolean;
  /**
   * Every Nth frame (at the next driving frame when parked) is a harsh braking or rapid
   * acceleration, alternately, and cars drive more than they charge; 0: never (model.ts).
   */
  harshEvery: number;
}

export const VEHICLE_DEFAULTS: VehicleTuning = {
  rate: 1,
  fields: 8,
  alertsEvery: 20,
  errorsEvery: 50,
  window: 16,
  resendTimeoutMs: 5000,
  maxRetries: 20,
  ttlMs: 300_000,
  queueSize: 10_000,
  backoffMs: 500,
  backoffMaxMs: 30_000,
  handshakeTimeoutMs: 10_000,
  pingIntervalMs: 15_000,
  simStepSeconds: 30,
  generate: true,
  harshEvery: 0,
};

export interface VehicleOptions extends Partial<VehicleTuning> {
  vin: string;
  /** e.g. `wss://localhost:4443/` */
  url: string;
  /** The vehicle's client certificate: its common name is the VIN the server sees. */
  cert: KeyPairPem;
  /** CA certificate(s) that sign the server's certificate. */
  ca?: string | Buffer | (string | Buffer)[];
  seed?: number;
  store?: FrameStore;
  headers?: Record<string, string>;
}

/** Defaults filled in, limits checked. */
export function tuningOf(opts: Partial<VehicleTuning>): VehicleTuning {
  const t: VehicleTuning = { ...VEHICLE_DEFAULTS };
  for (const k of Object.keys(VEHICLE_DEFAULTS) as (keyof VehicleTuning)[]) {
    if (opts[k] !== undefined) (t as unknown as Record<string, unknown>)[k] = opts[k];
  }
  t.frames = opts.frames;
  if (!(t.rate >= 0)) throw new RangeError(`rate must be 0 or more, got ${t.rate}`);
  if (!(t.window >= 1)) throw new RangeError(`window must be at least 1, got ${t.window}`);
  // The window must fit in the queue, or an in-flight frame would be dropped to make room.
  t.queueSize = Math.max(t.queueSize, t.window);
  return t;
}

export interface AckEvent {
  txid: string;
  recordType: string;
  latencyMs: number;
}

export interface ErrorEvent {
  txid: string;
  recordType: string;
  reason: string;
}
