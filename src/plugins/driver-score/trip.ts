import { countEvents, noEvents, scoreOf, type EventState } from './events.js';
import type { ScoreOptions } from './options.js';
import { haversineMi, type Gear, type Sample } from './sample.js';

/** A trip being driven. */
export interface TripState {
  startT: number;
  lastT: number;
  startOdo?: number;
  lastOdo?: number;
  /** An odometer reading came during the trip. */
  odoMoved: boolean;
  locMi: number;
  locPoints: number;
  maxSpeed?: number;
  /** With no known gear: since when the speed is at or below the start speed. */
  stillSince?: number;
  samples: number;
  events: EventState;
}

/** One vehicle as the plugin knows it; lost on restart. */
export interface VehicleState {
  /** The last gear reported since the last trip end; undefined: not known. */
  gear?: Gear;
  lastT: number;
  lastOdo?: number;
  lastLat?: number;
  lastLon?: number;
  trip?: TripState;
}

export type EndReason = 'park' | 'stationary' | 'disconnect' | 'silence';

/** A trip as published on derived/trip (ended) and derived/trip_live (running). */
export interface TripReport {
  started_at: string;
  /** derived/trip: when it ended; derived/trip_live: the last sample so far. */
  ended_at?: string;
  updated_at?: string;
  duration_s: number;
  distance_mi: number;
  distance_source: 'odometer' | 'location' | 'none';
  max_speed_mph: number | null;
  harsh_braking: number;
  rapid_acceleration: number;
  harsh_cornering: number;
  score: number;
  samples: number;
  end_reason?: EndReason;
}

export const newVehicle = (): VehicleState => ({ lastT: -Infinity });

const iso = (ms: number) => new Date(ms).toISOString();
const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

function startTrip(v: VehicleState, t: number): TripState {
  return {
    startT: t,
    lastT: t,
    startOdo: v.lastOdo,
    lastOdo: v.lastOdo,
    odoMoved: false,
    locMi: 0,
    locPoints: v.lastLat === undefined ? 0 : 1,
    samples: 0,
    events: noEvents(),
  };
}

/** Adds a sample to the running trip: distance, speed, events. */
function addToTrip(trip: TripState, v: VehicleState, s: Sample, o: ScoreOptions): void {
  trip.samples++;
  trip.lastT = Math.max(trip.lastT, s.t);
  if (s.odometerMi !== undefined) {
    trip.startOdo ??= s.odometerMi;
    if (s.odometerMi !== trip.startOdo) trip.odoMoved = true;
    trip.lastOdo = s.odometerMi;
  }
  if (s.lat !== undefined && s.lon !== undefined) {
    if (v.lastLat !== undefined && v.lastLon !== undefined && trip.locPoints > 0) trip.locMi += haversineMi(v.lastLat, v.lastLon, s.lat, s.lon);
    trip.locPoints++;
  }
  if (s.speedMph !== undefined) trip.maxSpeed = Math.max(trip.maxSpeed ?? 0, s.speedMph);
  countEvents(trip.events, s.longG, s.latG, o);
}

/** The report of a trip; `end` absent for a running one. */
export function reportOf(trip: TripState, o: ScoreOptions, end?: { t: number; reason: EndReason }): TripReport {
  const endT = end?.t ?? trip.lastT;
  const odo = trip.odoMoved && trip.startOdo !== undefined && trip.lastOdo !== undefined;
  const distance = odo ? Math.max(0, trip.lastOdo! - trip.startOdo!) : trip.locPoints >= 2 ? trip.locMi : 0;
  const e = trip.events;
  const r: TripReport = {
    started_at: iso(trip.startT),
    ...(end ? { ended_at: iso(endT) } : { updated_at: iso(endT) }),
    duration_s: round(Math.max(0, endT - trip.startT) / 1000, 1),
    distance_mi: round(distance, 3),
    distance_source: odo ? 'odometer' : trip.locPoints >= 2 ? 'location' : 'none',
    max_speed_mph: trip.maxSpeed ?? null,
    harsh_braking: e.harshBraking,
    rapid_acceleration: e.rapidAcceleration,
    harsh_cornering: e.harshCornering,
    score: scoreOf(e, o),
    samples: trip.samples,
  };
  if (end) r.end_reason = end.reason;
  return r;
}

/** Ends the running trip, if any, and forgets the gear (unknown until reported again). */
export function endTrip(v: VehicleState, o: ScoreOptions, reason: EndReason, t?: number): TripReport | undefined {
  const trip = v.trip;
  v.gear = undefined;
  if (!trip) return undefined;
  v.trip = undefined;
  return reportOf(trip, o, { t: t ?? trip.lastT, reason });
}

/**
 * One V sample for a vehicle. A trip starts when the gear leaves P (or, with no gear known,
 * the speed rises above start_speed_mph) and ends when the gear returns to P (or, with no gear
 * known, the vehicle stood still for stationary_end_s). Returns the trip it ended, if any. A
 * sample older than the last one (a resent frame) changes nothing.
 */
export function observe(v: VehicleState, s: Sample, o: ScoreOptions): TripReport | undefined {
  if (s.t < v.lastT) return undefined;
  v.lastT = s.t;
  if (s.gear !== undefined) v.gear = s.gear;
  let ended: TripReport | undefined;
  const moving = s.speedMph !== undefined && s.speedMph > o.start_speed_mph;
  if (v.trip) {
    addToTrip(v.trip, v, s, o);
    if (v.gear === 'P') {
      ended = endTrip(v, o, 'park', s.t);
      v.gear = 'P';
    } else if (v.gear === undefined && s.speedMph !== undefined) {
      const trip = v.trip;
      if (moving) trip.stillSince = undefined;
      else trip.stillSince ??= s.t;
      if (trip.stillSince !== undefined && s.t - trip.stillSince >= o.stationary_end_s * 1000) ended = endTrip(v, o, 'stationary', trip.stillSince);
    }
  } else if (v.gear === 'R' || v.gear === 'N' || v.gear === 'D' || (v.gear === undefined && moving)) {
    v.trip = startTrip(v, s.t);
    addToTrip(v.trip, v, s, o);
  }
  if (s.odometerMi !== undefined) v.lastOdo = s.odometerMi;
  if (s.lat !== undefined && s.lon !== undefined) {
    v.lastLat = s.lat;
    v.lastLon = s.lon;
  }
  return ended;
}
