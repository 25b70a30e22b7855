import t from 'tap';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { parseConfig } from '../src/config/load.js';
import { createDriverScore } from '../src/plugins/driver-score/index.js';
import { scoreOptions, ScoreOptionsError } from '../src/plugins/driver-score/options.js';
import { G, haversineMi, sampleOf } from '../src/plugins/driver-score/sample.js';
import { endTrip, newVehicle, observe, type TripReport } from '../src/plugins/driver-score/trip.js';
import type { DerivedPublisher } from '../src/producers/derived.js';
import type { Datum, VRecord } from '../src/record/types.js';
import { makeConnectivityRecord } from '../src/server/connectivity.js';
import { sleep, waitUntil } from './helpers/ports.js';

// The trip rules on known traces, without a network: exact counts, score, boundaries.
const VIN = '5YJ3E1EA7KF000024';
const T0 = 1_700_000_000;

type F = { gear?: 'P' | 'R' | 'N' | 'D'; speed?: number; odo?: number; lat?: number; lon?: number; long?: number; latAcc?: number };

/** A V record as the decoder makes it (JSON text per field, §6), `sec` seconds after T0. */
function rec(sec: number, f: F, txid = `tx-${sec}`): VRecord {
  const data: Datum[] = [];
  const add = (name: string, json: string) => data.push({ key: 0, name, json });
  if (f.gear) add('Gear', JSON.stringify(`ShiftState${f.gear}`));
  if (f.speed !== undefined) add('VehicleSpeed', String(f.speed));
  if (f.odo !== undefined) add('Odometer', String(f.odo));
  if (f.lat !== undefined) add('Location', JSON.stringify({ latitude: f.lat, longitude: f.lon }));
  if (f.long !== undefined) add('LongitudinalAcceleration', String(f.long));
  if (f.latAcc !== undefined) add('LateralAcceleration', String(f.latAcc));
  return { type: 'V', vin: VIN, txid, payload: new Uint8Array(), data, createdAt: { seconds: BigInt(T0 + sec), nanos: 0 } };
}

/** Runs records through the pure rules; returns the trips they ended. */
function drive(records: VRecord[], opts: Record<string, unknown> = {}) {
  const o = scoreOptions(opts);
  const v = newVehicle();
  const trips: TripReport[] = [];
  for (const r of records) {
    const ended = observe(v, sampleOf(r, o.acceleration_unit, 0), o);
    if (ended) trips.push(ended);
  }
  return { v, o, trips };
}

// Longitudinal then lateral accelerations in g: 2 harsh brakes, 2 rapid accelerations and 2 harsh
// corners, each one crossing however many samples it lasts (hysteresis 0.1 g).
const LONG_G = [0, -0.2, -0.45, -0.5, -0.42, -0.35, -0.45, -0.25, -0.41, 0, 0.41, 0.5, 0.29, 0.4, 0.35, 0.1];
const LAT_G = [0.5, -0.5, 0.2, -0.45, 0.1];

function trace(unit: 'g' | 'm/s2'): VRecord[] {
  const k = unit === 'g' ? 1 : G;
  const out = [rec(0, { gear: 'P', speed: 0, odo: 1000 }), rec(10, { gear: 'D', speed: 3 })];
  let s = 10;
  for (const a of LONG_G) out.push(rec(++s, { speed: 30 + s, long: a * k }));
  for (const a of LAT_G) out.push(rec(++s, { speed: 40, latAcc: a * k, long: 0 }));
  out.push(rec(++s, { odo: 1012.5 }), rec(++s, { gear: 'P', speed: 0 }), rec(s + 1, { gear: 'P', speed: 0, long: -0.9 * k }));
  return out;
}

t.test('a known trace in g: exact counts and score (100 − 5·2 − 3·2 − 3·2 = 78)', async (t) => {
  const { trips } = drive(trace('g'), { acceleration_unit: 'g' });
  t.equal(trips.length, 1, 'one trip');
  const trip = trips[0];
  t.match(trip, { harsh_braking: 2, rapid_acceleration: 2, harsh_cornering: 2, score: 78, end_reason: 'park' });
  t.equal(trip.started_at, new Date((T0 + 10) * 1000).toISOString(), 'starts when the gear leaves P');
  t.equal(trip.ended_at, new Date((T0 + 33) * 1000).toISOString(), 'ends when it is back in P');
  t.equal(trip.duration_s, 23);
  t.equal(trip.distance_mi, 12.5, 'odometer: last reading minus the one before the trip');
  t.equal(trip.distance_source, 'odometer');
  t.equal(trip.max_speed_mph, 56, 'maximum speed');
});

t.test('the same trace in m/s² (the default unit) gives the same counts', async (t) => {
  const { trips } = drive(trace('m/s2'));
  t.match(trips[0], { harsh_braking: 2, rapid_acceleration: 2, harsh_cornering: 2, score: 78 });
});

t.test('one crossing is one event: noise inside the hysteresis band counts once', async (t) => {
  const longs = [-0.41, -0.39, -0.41, -0.32, -0.45, -0.4];
  const recs = [rec(0, { gear: 'D' }), ...longs.map((a, i) => rec(i + 1, { long: a })), rec(20, { gear: 'P' })];
  t.equal(drive(recs, { acceleration_unit: 'g' }).trips[0].harsh_braking, 1, 'never back above −0.3 g: one event');
  const rearmed = [-0.4, -0.29, -0.4, -0.29, -0.4];
  const recs2 = [rec(0, { gear: 'D' }), ...rearmed.map((a, i) => rec(i + 1, { long: a })), rec(20, { gear: 'P' })];
  t.equal(drive(recs2, { acceleration_unit: 'g' }).trips[0].harsh_braking, 3, 'exactly at the threshold counts; above −0.3 g re-arms');
  const stricter = drive(recs2, { acceleration_unit: 'g', harsh_braking_g: 0.45 });
  t.equal(stricter.trips[0].harsh_braking, 0, 'thresholds are options');
});

t.test('score: penalties are options, and the score is clamped at 0', async (t) => {
  const brakes = Array.from({ length: 30 }, (_, i) => rec(i + 1, { long: i % 2 ? 0 : -0.6 }));
  const { trips } = drive([rec(0, { gear: 'D' }), ...brakes, rec(40, { gear: 'P' })], { acceleration_unit: 'g' });
  t.match(trips[0], { harsh_braking: 15, score: 25 });
  const harsh = drive([rec(0, { gear: 'D' }), ...brakes, rec(40, { gear: 'P' })], { acceleration_unit: 'g', penalty_harsh_braking: 10 });
  t.equal(harsh.trips[0].score, 0, '100 − 150 is clamped to 0');
  t.equal(drive([rec(0, { gear: 'D' }), rec(5, { gear: 'P' })]).trips[0].score, 100, 'no events: 100');
});

t.test('P → D → P → R → P: two trips; samples while parked count nothing', async (t) => {
  const { trips } = drive(
    [
      rec(0, { gear: 'P', long: -0.8, speed: 0 }),
      rec(1, { gear: 'D', speed: 10 }),
      rec(2, { speed: 20, long: -0.6 }),
      rec(3, { gear: 'P', speed: 0 }),
      rec(4, { long: 0.9 }),
      rec(5, { gear: 'R', speed: 2 }),
      rec(6, { gear: 'N' }),
      rec(7, { gear: 'P' }),
    ],
    { acceleration_unit: 'g' },
  );
  t.equal(trips.length, 2);
  t.match(trips[0], { duration_s: 2, harsh_braking: 1, rapid_acceleration: 0, max_speed_mph: 20, end_reason: 'park' });
  t.match(trips[1], { duration_s: 2, harsh_braking: 0, rapid_acceleration: 0, max_speed_mph: 2, distance_source: 'none', distance_mi: 0 });
});

t.test('no gear field: a trip starts above the start speed and ends after standing still', async (t) => {
  const recs = [rec(0, { speed: 3 }), rec(10, { speed: 6 }), rec(20, { speed: 40 }), rec(30, { speed: 0 }), rec(100, { speed: 1 }), rec(400, { speed: 0 })];
  const { trips, v } = drive(recs, { stationary_end_s: 300 });
  t.equal(trips.length, 1);
  t.match(trips[0], { end_reason: 'stationary', max_speed_mph: 40 });
  t.equal(trips[0].started_at, new Date((T0 + 10) * 1000).toISOString(), 'starts with the first sample above 5 mph');
  t.equal(trips[0].ended_at, new Date((T0 + 30) * 1000).toISOString(), 'ends when it stopped');
  t.equal(v.trip, undefined);
});

t.test('distance from Location (haversine) when there is no odometer', async (t) => {
  t.ok(Math.abs(haversineMi(0, 0, 0, 1) - 69.093) < 0.001, 'one degree of longitude at the equator ≈ 69.093 mi');
  const { trips } = drive([rec(0, { gear: 'P', lat: 0, lon: 0 }), rec(1, { gear: 'D', lat: 0, lon: 0.5 }), rec(2, { lat: 0, lon: 1 }), rec(3, { gear: 'P' })]);
  t.equal(trips[0].distance_source, 'location');
  t.ok(Math.abs(trips[0].distance_mi - 69.093) < 0.001, `from the last position before the trip: ${trips[0].distance_mi}`);
});

t.test('disconnect and silence end a trip at its last sample; an older sample changes nothing', async (t) => {
  const { v, o } = drive([rec(0, { gear: 'D', speed: 10 }), rec(5, { speed: 50, long: -0.5 * G })]);
  t.equal(observe(v, sampleOf(rec(3, { long: 0.9 * G }), o.acceleration_unit, 0), o), undefined, 'a resent older frame is ignored');
  const ended = endTrip(v, o, 'disconnect');
  t.match(ended, { end_reason: 'disconnect', harsh_braking: 1, rapid_acceleration: 0, duration_s: 5 });
  t.equal(ended!.ended_at, new Date((T0 + 5) * 1000).toISOString());
  t.equal(v.gear, undefined, 'the gear is unknown until reported again');
  t.equal(endTrip(v, o, 'silence'), undefined, 'no trip, nothing to end');
});

t.test('options: unknown keys and values out of range are refused with a code', async (t) => {
  t.throws(() => scoreOptions({ harsh_braking: 1 }), { code: 'driver_score_options', message: /unknown option "harsh_braking"/ });
  t.throws(() => scoreOptions({ acceleration_unit: 'ft/s2' }), /acceleration_unit/);
  t.throws(() => scoreOptions({ hysteresis_g: 0.5 }), /hysteresis_g/);
  t.throws(() => scoreOptions({ max_vehicles: 0 }), /max_vehicles/);
  t.throws(() => scoreOptions({ live_interval_s: -1 }), /live_interval_s/);
  t.equal(new ScoreOptionsError('x').code, 'driver_score_options');
});

// The producer wrapper, with a publisher that records what it is asked to publish.
function harness(options: Record<string, unknown>, publish: DerivedPublisher['publish']) {
  const lines: Record<string, unknown>[] = [];
  const out = new Writable({
    write(chunk, _e, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  const config = parseConfig(JSON.stringify({ records: { V: ['mqtt'] }, tls: { server_cert: 's', server_key: 'k' } }), '/tmp/config.json', {});
  const p = createDriverScore({ name: 'driver_score', config, logger: pino({ level: 'info' }, out), options, derived: { publish } });
  return { p, lines };
}

t.test('produce() resolves at once, whatever the derived publish does; failures are logged, rate-limited', async (t) => {
  const calls: [string, string, TripReport][] = [];
  const { p, lines } = harness({ live_interval_s: 0 }, (vin, name, value) => {
    calls.push([vin, name, value as TripReport]);
    return Promise.reject(Object.assign(new Error('not connected'), { code: 'broker_unavailable' }));
  });
  t.teardown(() => p.close());
  for (let i = 0; i < 20; i++) {
    const r = p.produce(rec(i, i === 0 ? { gear: 'D' } : { speed: i }));
    t.equal(await Promise.race([r.then(() => 'resolved'), sleep(0).then(() => 'pending')]), 'resolved');
  }
  await p.produce(rec(30, { gear: 'P' }));
  t.equal(calls.filter((c) => c[1] === 'trip_live').length, 20, 'trip_live on every record with live_interval_s 0');
  t.match(calls.at(-1), [VIN, 'trip', { end_reason: 'park', max_speed_mph: 19 }]);
  await waitUntil(() => lines.filter((l) => l.event === 'derived_publish_failed').length >= 3, 2000, 'failure lines');
  await sleep(50);
  t.equal(lines.filter((l) => l.event === 'derived_publish_failed').length, 3, '21 failures, 3 log lines (a burst per minute)');

  const hung = harness({}, () => new Promise(() => {}));
  await t.resolves(hung.p.produce(rec(0, { gear: 'D' })), 'a publish that never settles does not hold the record');
  await hung.p.close();
});

t.test('the producer: live updates throttled, resends not counted twice, disconnect, silence, bounded vehicles', async (t) => {
  const calls: [string, string, TripReport][] = [];
  const { p } = harness({ live_interval_s: 3600, silence_end_s: 0.3, max_vehicles: 2 }, async (vin, name, value) => {
    calls.push([vin, name, value as TripReport]);
  });
  t.teardown(() => p.close());
  await p.produce(rec(0, { gear: 'D' }, 'a'));
  await p.produce(rec(1, { long: -5 }, 'b'));
  await p.produce(rec(2, { long: -0.1 }, 'c'));
  await p.produce(rec(1, { long: -5 }, 'b'));
  await p.produce(rec(3, { long: -5 }, 'b'));
  t.equal(calls.filter((c) => c[1] === 'trip_live').length, 1, 'one trip_live within live_interval_s');
  await p.produce(makeConnectivityRecord({ vin: VIN, connectionId: 'c', clientVersion: '', networkInterface: 'wifi' }, 'DISCONNECTED'));
  t.match(calls.at(-1), [VIN, 'trip', { end_reason: 'disconnect', harsh_braking: 1, samples: 3 }], 'a resent txid is not counted again');

  await p.produce({ ...rec(10, { gear: 'D', speed: 20 }), vin: 'SILENT' });
  await waitUntil(() => calls.some((c) => c[0] === 'SILENT' && c[1] === 'trip'), 5000, 'silence to end the trip');
  t.match(
    calls.find((c) => c[0] === 'SILENT' && c[1] === 'trip'),
    ['SILENT', 'trip', { end_reason: 'silence', max_speed_mph: 20 }],
  );

  // Three vehicles, room for two: the least recently heard from is forgotten with its trip.
  for (const vin of ['A', 'B', 'C']) await p.produce({ ...rec(20, { gear: 'D' }), vin });
  const before = calls.length;
  await p.produce(makeConnectivityRecord({ vin: 'A', connectionId: 'c', clientVersion: '', networkInterface: 'wifi' }, 'DISCONNECTED'));
  t.equal(calls.length, before, 'A was forgotten: no trip to end');
  await p.produce(makeConnectivityRecord({ vin: 'C', connectionId: 'c', clientVersion: '', networkInterface: 'wifi' }, 'DISCONNECTED'));
  t.equal(calls.at(-1)?.[0], 'C', 'C was kept');
});
