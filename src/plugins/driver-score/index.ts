import { rateLimitedLog, type DerivedPublisher, type Producer, type ProducerContext, type VehicleRecord } from '../../plugin/index.js';
import { scoreOptions } from './options.js';
import { sampleOf } from './sample.js';
import { endTrip, newVehicle, observe, reportOf, type TripReport, type VehicleState } from './trip.js';

export { scoreOptions, SCORE_DEFAULTS } from './options.js';

interface Tracked extends VehicleState {
  /** Wall-clock time the last record arrived (silence is measured on this clock). */
  heardAt: number;
  liveAt: number;
  /** The last few txids: a resent frame is not counted twice. */
  txids: string[];
}

const RECENT_TXIDS = 32;

const noPublisher: DerivedPublisher = {
  publish: () => Promise.reject(Object.assign(new Error('no derived publisher in this context'), { code: 'derived_unavailable' })),
};

/**
 * The driver-score producer: V and connectivity records in, trips out on
 * `<topic_base>/<VIN>/derived/trip` (ended) and `…/derived/trip_live` (running, throttled).
 * produce() does a bounded amount of work and resolves at once: a derived publish is never
 * waited for by the record's ack. State is per vehicle, bounded (max_vehicles, least recently
 * heard from forgotten) and in memory only: a restart forgets running trips.
 */
export function createDriverScore(ctx: ProducerContext, now: () => number = Date.now): Producer {
  const o = scoreOptions(ctx.options);
  const log = ctx.logger.child({ producer: ctx.name });
  const derived = ctx.derived ?? noPublisher;
  const vehicles = new Map<string, Tracked>();
  const limited = rateLimitedLog(log, { burst: 3, intervalMs: 60_000, now });

  const publish = (vin: string, name: string, value: TripReport) => {
    derived.publish(vin, name, value).catch((err: unknown) => {
      const code = (err as { code?: unknown }).code;
      const key = typeof code === 'string' ? code : 'other';
      limited.warn(key, { event: 'derived_publish_failed', vin, name, code: key, err: (err as Error).message }, `derived ${name} not published`);
    });
  };

  const vehicle = (vin: string): Tracked => {
    let v = vehicles.get(vin);
    if (v) {
      // Map order is recency: the first key is the least recently heard from.
      vehicles.delete(vin);
    } else {
      v = { ...newVehicle(), heardAt: 0, liveAt: -Infinity, txids: [] };
      if (vehicles.size >= o.max_vehicles) vehicles.delete(vehicles.keys().next().value!);
    }
    vehicles.set(vin, v);
    return v;
  };

  const take = (r: VehicleRecord) => {
    if (r.type === 'connectivity') {
      if (r.status !== 'DISCONNECTED') return;
      const v = vehicles.get(r.vin);
      const ended = v && endTrip(v, o, 'disconnect');
      if (ended) publish(r.vin, 'trip', ended);
      return;
    }
    if (r.type !== 'V') return;
    const v = vehicle(r.vin);
    const t = now();
    v.heardAt = t;
    if (r.txid !== '') {
      if (v.txids.includes(r.txid)) return;
      if (v.txids.push(r.txid) > RECENT_TXIDS) v.txids.shift();
    }
    const ended = observe(v, sampleOf(r, o.acceleration_unit, t), o);
    if (ended) publish(r.vin, 'trip', ended);
    if (v.trip && t - v.liveAt >= o.live_interval_s * 1000) {
      v.liveAt = t;
      publish(r.vin, 'trip_live', reportOf(v.trip, o));
    }
  };

  // Silence ends a trip: one sweep over the vehicles, not a timer each.
  const silenceMs = o.silence_end_s * 1000;
  const sweep = setInterval(
    () => {
      const t = now();
      for (const [vin, v] of vehicles) {
        if (!v.trip || t - v.heardAt < silenceMs) continue;
        const ended = endTrip(v, o, 'silence');
        if (ended) publish(vin, 'trip', ended);
      }
    },
    Math.min(5000, Math.max(50, silenceMs / 4)),
  );
  sweep.unref();

  return {
    name: ctx.name,
    selfTimed: true,
    produce(record) {
      try {
        take(record);
      } catch (err) {
        // A fault here is the plugin's, never the record's: the frame is still acked.
        limited.error('internal', { event: 'driver_score_failed', vin: record.vin, err: (err as Error).message }, 'driver score failed on a record');
      }
      return Promise.resolve();
    },
    async close() {
      clearInterval(sweep);
      vehicles.clear();
    },
  };
}

/** The plugin factory (`"module": "fleet-telemetry/plugins/driver-score"`). */
export default function createProducer(ctx: ProducerContext): Producer {
  return createDriverScore(ctx);
}

export { createProducer };
