import t from 'tap';
import { decodeRecord } from '../src/record/decode.js';
import type { VehicleRecord } from '../src/record/types.js';
import { FleetStore } from '../src/ops/fleet/store.js';
import { MergedFleet } from '../src/ops/fleet/merged.js';
import { detailBody, keyValues, mergeRows, RateWindow } from '../src/ops/fleet/view.js';
import { KEY_FIELDS, KEY_UNITS, unitOf } from '../src/ops/fleet/units.js';
import type { FleetChanges, StoredRow } from '../src/ops/fleet/types.js';
import { vPayload } from './helpers/vehicle.js';

// The fleet view's pure parts: the store fed with real decoded records, its bounds, the merge
// over workers and the rates. The server around it is tested in fleet-api.test.ts.

const VIN = '5YJ3E7EB2NF000001';
type Json = Record<string, unknown>;
const v = (vin: string, data: { key: string; value: Json }[]): VehicleRecord => decodeRecord('V', vPayload(data, vin), vin, 'tx');

function session(vin: string, connectedAt: number) {
  return { info: { vin }, connectedAt, frames: 0, fields: 0, lastFrameAt: 0 };
}

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, step: (ms: number) => (now += ms) };
}

t.test('key values come from the published JSON of the real fields', async (t) => {
  const c = clock();
  const store = new FleetStore({ max_vehicles: 10, max_fields_per_vehicle: 50, now: c.now });
  const s = session(VIN, c.now());
  store.vehicleConnected(s);
  store.recordAcked(
    v(VIN, [
      { key: 'BatteryLevel', value: { double_value: 80.25 } },
      { key: 'VehicleSpeed', value: { float_value: 52 } },
      { key: 'Gear', value: { shift_state_value: 'ShiftStateD' } },
      { key: 'ChargeState', value: { string_value: 'Idle' } },
      { key: 'Location', value: { location_value: { latitude: 37.4, longitude: -122.1 } } },
      { key: 'VehicleName', value: { string_value: 'Red Car' } },
    ]),
  );
  let row = store.changes(0).rows[0];
  t.same(row.key, {
    soc: 80.25,
    speed: 52,
    gear: 'ShiftStateD',
    charging: 'Idle',
    location: { lat: 37.4, lon: -122.1 },
    odometer: null,
    range: null,
    firmware: null,
  });
  t.equal(row.name, 'Red Car');
  t.equal(row.connected, true);
  t.equal(row.since, c.now());

  c.step(1000);
  store.recordAcked(
    v(VIN, [
      { key: 'Soc', value: { double_value: 81.5 } },
      { key: 'DetailedChargeState', value: { detailed_charge_state_value: 'DetailedChargeStateCharging' } },
    ]),
  );
  row = store.changes(0).rows[0];
  t.equal(row.key.soc, 81.5, 'Soc before BatteryLevel');
  t.equal(row.key.charging, 'DetailedChargeStateCharging', 'DetailedChargeState before ChargeState, as published');

  const d = store.detail(VIN)!;
  t.same(
    d.fields.map((f) => f.name),
    ['BatteryLevel', 'ChargeState', 'DetailedChargeState', 'Gear', 'Location', 'Soc', 'VehicleName', 'VehicleSpeed'],
    'fields sorted by name',
  );
  t.equal(d.fields.find((f) => f.name === 'Soc')!.at, c.now(), 'arrival time of the latest value');
  t.equal(d.fields.find((f) => f.name === 'Gear')!.at, c.now() - 1000);
  t.same(d.fields.find((f) => f.name === 'Location')!.value, { latitude: 37.4, longitude: -122.1 }, 'value parsed from the published JSON');
  const body = detailBody(d);
  t.ok(Array.isArray(body.fields) && typeof body.fields_total === 'number', 'detail: fields list, count as fields_total');
  t.notOk('heard' in body, 'internal recency left out');
});

t.test('disconnect keeps the vehicle; counts add up over connections; trip score from derived records', async (t) => {
  const c = clock();
  const store = new FleetStore({ max_vehicles: 10, max_fields_per_vehicle: 50, now: c.now });
  const s1 = session(VIN, c.now());
  store.vehicleConnected(s1);
  s1.frames = 3;
  s1.fields = 6;
  s1.lastFrameAt = c.now() + 10;
  c.step(5000);
  store.vehicleDisconnected(s1);
  let row = store.changes(0).rows[0];
  t.equal(row.connected, false);
  t.equal(row.since, c.now(), 'since: disconnected at');
  t.equal(row.frames, 3);
  t.same(store.counts(), { connected: 0, known: 1 });

  const s2 = session(VIN, c.step(1000));
  store.vehicleConnected(s2);
  s2.frames = 2;
  s2.fields = 4;
  const cursor = store.changes(0).cursor;
  s2.frames = 3;
  const changed = store.changes(cursor);
  t.equal(changed.rows.length, 1, 'a frame counted by the session is a change');
  row = changed.rows[0];
  t.equal(row.frames, 6);
  t.equal(row.fields, 10);
  t.equal(row.connected, true);
  t.equal(store.changes(changed.cursor).rows.length, 0, 'nothing new: no rows');

  store.noteDerived(VIN, 'trip', { score: 92 });
  store.noteDerived(VIN, 'trip', { score: 'high' });
  store.noteDerived(VIN, 'charge', { score: 10 });
  t.equal(store.changes(0).rows[0].trip_score, 92);
});

t.test('bounds: the disconnected vehicle heard from longest ago goes first; fields past the bound are dropped', async (t) => {
  const c = clock();
  const store = new FleetStore({ max_vehicles: 3, max_fields_per_vehicle: 2, now: c.now });
  const vins = ['V1', 'V2', 'V3', 'V4', 'V5'];
  const sessions = vins.map((vin) => session(vin, c.now()));
  for (const s of sessions.slice(0, 3)) {
    store.vehicleConnected(s);
    c.step(10);
  }
  store.vehicleDisconnected(sessions[1]); // V2, heard now
  c.step(10);
  store.vehicleDisconnected(sessions[0]); // V1, heard later
  store.vehicleConnected(sessions[3]);
  t.same(
    store.changes(0).rows.map((r) => r.vin),
    ['V1', 'V3', 'V4'],
    'V2 (heard longest ago) evicted',
  );
  store.vehicleConnected(sessions[4]);
  t.same(
    store.changes(0).rows.map((r) => r.vin),
    ['V3', 'V4', 'V5'],
    'then V1',
  );
  store.vehicleConnected(session('V6', c.now()));
  t.equal(store.size, 3, 'all connected: a new vehicle is not kept');
  t.equal(store.untracked, 1);

  store.recordAcked(
    v('V3', [
      { key: 'Soc', value: { double_value: 1 } },
      { key: 'Gear', value: { shift_state_value: 'ShiftStateP' } },
      { key: 'VehicleSpeed', value: { float_value: 3 } },
    ]),
  );
  store.recordAcked(v('V3', [{ key: 'Soc', value: { double_value: 2 } }]));
  const d = store.detail('V3')!;
  t.same(
    d.fields.map((f) => [f.name, f.value]),
    [
      ['Gear', 'ShiftStateP'],
      ['Soc', 2],
    ],
    'two fields kept, updated in place',
  );
  t.equal(d.fields_dropped, 1);
});

t.test('alerts and errors keep the latest per name', async (t) => {
  const store = new FleetStore({ max_vehicles: 3, max_fields_per_vehicle: 2 });
  const base = { vin: VIN, txid: 't', payload: new Uint8Array() };
  store.recordAcked({ ...base, type: 'alerts', alerts: [{ name: 'A', audiences: ['Customer'], startedAt: { seconds: 1700000000n, nanos: 0 } }] });
  store.recordAcked({
    ...base,
    type: 'alerts',
    alerts: [{ name: 'A', audiences: ['Service'], startedAt: { seconds: 1700000000500n, nanos: 0 }, endedAt: { seconds: 1700000100n, nanos: 0 } }],
  });
  store.recordAcked({ ...base, type: 'errors', errors: [{ name: 'E', body: 'broke', tags: {}, createdAt: { seconds: 1700000200n, nanos: 0 } }] });
  const d = store.detail(VIN)!;
  t.same(d.alerts, [{ name: 'A', audiences: ['Service'], started_at: 1700000000500, ended_at: 1700000100000 }], 'milliseconds in seconds read as such');
  t.same(d.errors, [{ name: 'E', body: 'broke', at: 1700000200000 }]);
});

const row = (over: Partial<StoredRow>): StoredRow => ({
  vin: VIN,
  name: null,
  connected: false,
  since: 0,
  last_frame_at: null,
  frames: 0,
  fields: 0,
  key: keyValues(() => undefined),
  trip_score: null,
  alert_counts: { fault: 0, warning: 0, info: 0 },
  error_counts: { fault: 0, warning: 0, info: 0 },
  heard: 0,
  ...over,
});

t.test('merge by VIN: the newest row wins, counts add up', async (t) => {
  const old = row({ connected: false, since: 100, heard: 100, frames: 5, fields: 50, name: 'Car', key: { ...keyValues(() => undefined), soc: 70, speed: 10 } });
  const now = row({ connected: true, since: 200, heard: 200, frames: 1, fields: 3, key: { ...keyValues(() => undefined), speed: 0 } });
  const m = mergeRows([old, now]);
  t.equal(m.connected, true);
  t.equal(m.since, 200);
  t.equal(m.frames, 6);
  t.equal(m.fields, 53);
  t.equal(m.key.speed, 0, 'the newest value');
  t.equal(m.key.soc, 70, 'a value only the older row has');
  t.equal(m.name, 'Car');
});

t.test('the primary merges worker answers by cursor; a restarted worker ends its connections', async (t) => {
  const asked: unknown[] = [];
  const answers = new Map<number, FleetChanges>();
  const totals = { frames_acked_total: 1, frames_unanswered_total: 0, frames_error_total: 0, fields_total: 2, records_in_flight: 0, broker_connected: true };
  const merged = new MergedFleet(
    async <T>(_what: string, arg: (k: number) => unknown) => [1, 2].map((k) => (asked.push([k, arg(k)]), { k, value: answers.get(k) as T | undefined })),
    async () => ({ ready: true }),
    2,
    10,
  );
  answers.set(1, { epoch: 'a', cursor: 4, rows: [row({ vin: 'X', connected: true, heard: 10, frames: 2 })], totals });
  answers.set(2, { epoch: 'b', cursor: 7, rows: [row({ vin: 'Y', connected: true, heard: 10 })], totals });
  let r = await merged.changes(0);
  t.same(
    r.body.vehicles.map((x) => x.vin),
    ['X', 'Y'],
  );
  t.equal(r.body.health.vehicles_connected, 2);
  t.equal(r.body.health.frames_acked_total, 2, 'totals summed over workers');
  t.equal(r.body.health.workers, 2);
  t.notOk('heard' in r.body.vehicles[0]);
  await new Promise((res) => setTimeout(res, 300));
  answers.set(1, { epoch: 'a2', cursor: 1, rows: [], totals });
  answers.set(2, { epoch: 'b', cursor: 8, rows: [row({ vin: 'X', connected: true, heard: 20, frames: 1 })], totals });
  r = await merged.changes(r.cursor);
  t.same(
    asked.slice(-2),
    [
      [1, 4],
      [2, 7],
    ],
    'each worker asked from its own cursor',
  );
  const x = r.body.vehicles.find((v) => v.vin === 'X')!;
  t.equal(x.connected, true, 'X moved to worker 2');
  t.equal(x.frames, 3);
  await new Promise((res) => setTimeout(res, 300));
  await merged.changes(r.cursor);
  t.same(
    asked.slice(-2),
    [
      [1, 0],
      [2, 8],
    ],
    'the restarted worker is asked from the start',
  );
});

t.test('rates over the last seconds', async (t) => {
  const w = new RateWindow(5000);
  t.same(w.rates(0, 0, 0), { frames_per_s: 0, fields_per_s: 0 });
  t.same(w.rates(1000, 10, 100), { frames_per_s: 10, fields_per_s: 100 });
  for (let s = 2; s <= 20; s++) w.rates(s * 1000, 10, 100);
  t.same(w.rates(21_000, 60, 100), { frames_per_s: 10, fields_per_s: 0 }, 'only the last ~5 s count');
});

t.test('rows count active alerts by severity and kept errors; odometer, range and firmware from their fields', async (t) => {
  const store = new FleetStore({ max_vehicles: 3, max_fields_per_vehicle: 50 });
  const base = { vin: VIN, txid: 't', payload: new Uint8Array() };
  const at = { seconds: 1700000000n, nanos: 0 };
  store.recordAcked({
    ...base,
    type: 'alerts',
    alerts: [
      { name: 'Repair', audiences: ['Customer', 'ServiceFix'], startedAt: at },
      { name: 'Told', audiences: ['Customer'], startedAt: at },
      { name: 'Logged', audiences: ['Service'], startedAt: at },
      { name: 'Over', audiences: ['ServiceFix'], startedAt: at, endedAt: at },
    ],
  });
  store.recordAcked({
    ...base,
    type: 'errors',
    errors: [
      { name: 'E1', body: 'x', tags: {}, createdAt: at },
      { name: 'E2', body: 'y', tags: {}, createdAt: at },
    ],
  });
  store.recordAcked(
    v(VIN, [
      { key: 'Odometer', value: { double_value: 12345.6 } },
      { key: 'EstBatteryRange', value: { double_value: 200.5 } },
      { key: 'Version', value: { string_value: '2025.20.3 abc' } },
    ]),
  );
  let row = store.changes(0).rows[0];
  t.same(row.alert_counts, { fault: 1, warning: 1, info: 1 }, 'ServiceFix a fault, Customer a warning, Service alone info; an ended alert not counted');
  t.same(row.error_counts, { fault: 0, warning: 2, info: 0 }, 'errors are warnings');
  t.equal(row.key.odometer, 12345.6);
  t.equal(row.key.range, 200.5, 'EstBatteryRange when there is no RatedRange');
  t.equal(row.key.firmware, '2025.20.3 abc');
  store.recordAcked(v(VIN, [{ key: 'RatedRange', value: { double_value: 210 } }]));
  row = store.changes(0).rows[0];
  t.equal(row.key.range, 210, 'RatedRange first');
  store.recordAcked({
    ...base,
    type: 'alerts',
    alerts: [{ name: 'Repair', audiences: ['Customer', 'ServiceFix'], startedAt: at, endedAt: { seconds: 1700000100n, nanos: 0 } }],
  });
  t.same(store.changes(0).rows[0].alert_counts, { fault: 0, warning: 1, info: 1 }, 'the fault ended: no longer counted');
});

t.test('units of the key values come from the discovery table', async (t) => {
  t.same(KEY_UNITS, { soc: '%', speed: 'mph', odometer: 'mi', range: 'mi' });
  for (const [k, fields] of Object.entries(KEY_FIELDS)) {
    const units = new Set(fields.map(unitOf));
    t.equal(units.size, 1, `every field of ${k} has the one unit ${[...units].join(', ')}`);
  }
  t.equal(unitOf('Gear'), null, 'an enum has no unit');
});
