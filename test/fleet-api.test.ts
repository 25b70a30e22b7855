import t from 'tap';
import type { FleetRow } from '../src/ops/fleet/types.js';
import type { Test } from 'tap';
import { makePki, type TestPki } from './helpers/pki.js';
import { alertsFrame, errorsFrame } from './helpers/isolation.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { freePort, waitUntil } from './helpers/ports.js';
import { startServer, testWorkers, type ServerProcess } from './helpers/server.js';
import { openSse, type SseStream } from './helpers/sse.js';
import { connectVehicle, vFrame, type VehicleClient } from './helpers/vehicle.js';

// The fleet view's server side (issue #23) on the real CLI: /api/fleet, /api/vehicles/<VIN> and
// /api/events on the monitoring port while emulated vehicles stream through a real broker.

const A = '5YJ3E7EB2NF000001';
const B = '5YJ3E7EB2NF000002';

type Row = FleetRow;
interface Fleet {
  at: number;
  full?: boolean;
  health: Record<string, number | boolean | null>;
  units: Record<string, string | null>;
  vehicles: Row[];
}

/** An `event: fleet` of /api/events: a full one has columns and rows, a delta changed columns. */
interface FleetEvent {
  at: number;
  full: boolean;
  health: Record<string, number | boolean | null>;
  units?: Record<string, string | null>;
  columns?: string[];
  rows?: unknown[][];
  changed?: Record<string, unknown>[];
  removed?: string[];
}
const ev = (data: string) => JSON.parse(data) as FleetEvent;
/** A full event's rows as objects by column name. */
const rowsOf = (e: FleetEvent) => e.rows!.map((cells) => Object.fromEntries(e.columns!.map((c, i) => [c, cells[i]])));

const keyData = (speed: number) => [
  { key: 'Soc', value: { double_value: 81.5 } },
  { key: 'VehicleSpeed', value: { float_value: speed } },
  { key: 'Gear', value: { shift_state_value: 'ShiftStateD' } },
  { key: 'DetailedChargeState', value: { detailed_charge_state_value: 'DetailedChargeStateCharging' } },
  { key: 'Location', value: { location_value: { latitude: 37.4, longitude: -122.1 } } },
  { key: 'VehicleName', value: { string_value: 'Red Car' } },
];

async function start(t: Test, extra: Record<string, unknown> = {}) {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const server = await startServer(dir, {
    records: { V: ['mqtt'], alerts: ['mqtt'], errors: ['mqtt'] },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
    mqtt: { broker: 'embedded', embedded_port: 0, qos: 1 },
    monitoring: { prometheus_metrics_port: 0 },
    ...extra,
  });
  t.teardown(async () => {
    if (server.proc.exitCode === null) server.proc.kill('SIGKILL');
  });
  const port = (await server.waitForLog((l) => l.event === 'monitoring_listening')).port as number;
  await server.waitForLog((l) => l.event === 'mqtt_connected');
  return { dir, pki, server, port, http: httpOf(port) };
}

function httpOf(port: number) {
  return async (path: string) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`);
    return { status: res.status, text: await res.text(), type: res.headers.get('content-type'), cache: res.headers.get('cache-control') };
  };
}

async function fleet(http: ReturnType<typeof httpOf>): Promise<Fleet> {
  const r = await http('/api/fleet');
  if (r.status !== 200) throw new Error(`/api/fleet answered ${r.status}`);
  return JSON.parse(r.text) as Fleet;
}

async function sendAcked(v: VehicleClient, txid: string, frame: Uint8Array): Promise<void> {
  v.send(frame);
  const r = await v.response(txid);
  if (r.kind !== 'ack') throw new Error(`${txid}: ${r.kind} ${r.reason ?? ''}`);
}

const connect = (server: ServerProcess, pki: TestPki, vin: string) => pki.vehicle(vin).then((cert) => connectVehicle(server.port, cert, pki.ca.certPem));

t.test('/api/fleet and /api/vehicles/<VIN>: every vehicle seen, its key values, fields with times, alerts and errors', async (t) => {
  const { server, pki, http } = await start(t);
  const before = Date.now();
  const a = await connect(server, pki, A);
  const b = await connect(server, pki, B);
  await sendAcked(a, 'a1', vFrame('a1', A, keyData(52)));
  await sendAcked(a, 'a-alerts', alertsFrame('a-alerts', A, ['BrakeFluidLow']));
  await sendAcked(a, 'a-errors', errorsFrame('a-errors', A, ['thermal_fault']));
  await sendAcked(b, 'b1', vFrame('b1', B, [{ key: 'BatteryLevel', value: { double_value: 40 } }]));

  const r = await http('/api/fleet');
  t.equal(r.status, 200);
  t.match(r.type, /^application\/json/);
  t.equal(r.cache, 'no-store');
  const f = JSON.parse(r.text) as Fleet;
  t.same(
    f.vehicles.map((v) => v.vin),
    [A, B],
    'sorted by VIN',
  );
  const ra = f.vehicles[0];
  t.equal(ra.name, 'Red Car', 'name from VehicleName');
  t.equal(ra.connected, true);
  t.ok(ra.since >= before - 1000 && ra.since <= Date.now(), 'since: connected at');
  t.ok(ra.last_frame_at! >= ra.since, 'last frame time');
  t.equal(ra.frames, 3);
  t.equal(ra.fields, 8, 'six datums and one per alerts/errors record, as /vehicles counts them');
  t.same(ra.key, {
    soc: 81.5,
    speed: 52,
    gear: 'ShiftStateD',
    charging: 'DetailedChargeStateCharging',
    location: { lat: 37.4, lon: -122.1 },
    odometer: null,
    range: null,
    firmware: null,
  });
  t.equal(ra.trip_score, null);
  t.same(ra.alert_counts, { fault: 0, warning: 1, info: 0 }, 'the active alert meant for the driver: a warning');
  t.same(ra.error_counts, { fault: 0, warning: 1, info: 0 }, 'the error: a warning');
  t.same(f.units, { soc: '%', speed: 'mph', odometer: 'mi', range: 'mi' }, 'units of the numeric key values, as discovery publishes them');
  t.same(
    f.vehicles[1].key,
    { soc: 40, speed: null, gear: null, charging: null, location: null, odometer: null, range: null, firmware: null },
    'BatteryLevel when there is no Soc',
  );
  t.equal(f.vehicles[1].name, null);
  t.match(f.health, {
    vehicles_connected: 2,
    vehicles_known: 2,
    frames_acked_total: 4,
    frames_unanswered_total: 0,
    frames_error_total: 0,
    broker_connected: true,
    ready: true,
    records_in_flight: 0,
    workers: testWorkers().workers ?? 1,
  });
  t.type(f.health.frames_per_s, 'number');
  t.type(f.health.fields_per_s, 'number');

  const d = await http(`/api/vehicles/${A}`);
  t.equal(d.status, 200);
  t.equal(d.cache, 'no-store');
  const detail = JSON.parse(d.text) as Row & {
    fields: { name: string; value: unknown; at: number }[];
    alerts: Record<string, unknown>[];
    errors: Record<string, unknown>[];
  };
  t.same(
    detail.fields.map((x) => [x.name, x.value]),
    [
      ['DetailedChargeState', 'DetailedChargeStateCharging'],
      ['Gear', 'ShiftStateD'],
      ['Location', { latitude: 37.4, longitude: -122.1 }],
      ['Soc', 81.5],
      ['VehicleName', 'Red Car'],
      ['VehicleSpeed', 52],
    ],
    'every field, sorted, its published value parsed',
  );
  t.ok(
    detail.fields.every((x) => x.at >= before && x.at <= Date.now()),
    'each with its arrival time',
  );
  t.same(detail.alerts, [{ name: 'BrakeFluidLow', audiences: ['Customer'], started_at: 1700000100000, ended_at: null, severity: 'warning' }]);
  t.same(detail.errors, [{ name: 'thermal_fault', body: 'b', at: 1700000000000 }]);
  t.equal(detail.vin, A);
  t.same(detail.key, ra.key);

  const unknown = await http('/api/vehicles/5YJ3E7EB2NF999999');
  t.equal(unknown.status, 404);
  t.same(JSON.parse(unknown.text), { error: 'unknown vehicle' });
  const page = await http('/');
  t.equal(page.status, 200, '/ is the fleet page');
  t.match(page.text, /<html/i);

  await b.close();
  const gone = await waitUntil(async () => (await fleet(http)).vehicles.find((v) => v.vin === B && !v.connected), 10_000, 'B disconnected');
  t.ok(gone.since >= f.vehicles[1].since, 'since: disconnected at');
  t.equal(gone.frames, 1, 'its counts stay');
  t.equal(gone.key.soc, 40, 'its last values stay');
  t.equal((await fleet(http)).health.vehicles_connected, 1);
  await a.close();
  t.equal(await server.stop(), 0);
});

t.test('/api/events: retry, a full event, then deltas of the changed rows; 33rd stream refused; streams end with the server', async (t) => {
  const { server, pki, http, port } = await start(t);
  const a = await connect(server, pki, A);
  const b = await connect(server, pki, B);
  await sendAcked(a, 'a1', vFrame('a1', A, keyData(10)));
  await sendAcked(b, 'b1', vFrame('b1', B, keyData(20)));

  const s = await openSse(port, `/api/events?vin=${A}`);
  t.equal(s.status, 200);
  t.match(s.res.headers['content-type'], /^text\/event-stream/);
  t.equal(s.res.headers['cache-control'], 'no-store');
  const full = await s.next((e) => e.event === 'fleet');
  t.equal(s.retry, 2000, 'retry first');
  const body = ev(full.data);
  t.equal(body.full, true);
  t.same(body.columns, [
    'vin',
    'name',
    'connected',
    'since',
    'last_frame_at',
    'frames',
    'fields',
    'soc',
    'speed',
    'gear',
    'charging',
    'location',
    'odometer',
    'range',
    'firmware',
    'trip_score',
    'alert_counts',
    'error_counts',
  ]);
  const fullRows = rowsOf(body);
  t.same(fullRows.map((v) => v.vin).sort(), [A, B]);
  t.match(
    fullRows.find((v) => v.vin === A),
    {
      name: 'Red Car',
      connected: true,
      frames: 1,
      soc: 81.5,
      speed: 10,
      gear: 'ShiftStateD',
      charging: 'DetailedChargeStateCharging',
      location: [37.4, -122.1],
      odometer: null,
      alert_counts: [0, 0, 0],
    },
  );
  t.equal(body.health.vehicles_connected, 2);
  t.same(body.units, { soc: '%', speed: 'mph', odometer: 'mi', range: 'mi' });
  const veh = await s.next((e) => e.event === 'vehicle');
  t.equal((JSON.parse(veh.data) as Row).vin, A, 'the asked vehicle at connect');

  // A tick with nothing new, then one after A's next frame.
  const quiet = await s.next((e) => e.event === 'fleet' && ev(e.data).changed?.length === 0, full.index + 1);
  t.equal(ev(quiet.data).full, false);
  t.same(ev(quiet.data).removed, []);
  t.type(ev(quiet.data).health.frames_acked_total, 'number', 'complete health in every delta');
  await sendAcked(a, 'a2', vFrame('a2', A, keyData(77)));
  const delta = await s.next((e) => e.event === 'fleet' && ev(e.data).changed!.length > 0, quiet.index + 1);
  const changed = ev(delta.data).changed!;
  t.same(
    changed.map((v) => v.vin),
    [A],
    'only the changed row',
  );
  t.same(Object.keys(changed[0]).sort(), ['fields', 'frames', 'last_frame_at', 'speed', 'vin'], 'only the columns that changed');
  t.equal(changed[0].speed, 77);
  t.equal(changed[0].frames, 2);
  const v2 = await s.next((e) => e.event === 'vehicle' && (JSON.parse(e.data) as Row).key.speed === 77, veh.index + 1);
  t.ok(v2, 'the vehicle event when it changed');

  // 31 more make 32; the 33rd is refused.
  const more: SseStream[] = [];
  t.teardown(() => more.forEach((m) => m.close()));
  for (let i = 0; i < 31; i++) more.push(await openSse(port, '/api/events'));
  t.ok(more.every((m) => m.status === 200));
  const refused = await openSse(port, '/api/events');
  t.equal(refused.status, 503, '33rd stream: 503');
  await refused.ended;
  more.pop()!.close();
  await waitUntil(async () => (await openSse(port, '/api/events').then((x) => (more.push(x), x.status))) === 200, 5000, 'a place frees up');
  t.equal((await http('/api/fleet')).status, 200, 'plain requests still served');

  await a.close();
  await b.close();
  const stopped = server.stop();
  await Promise.race([s.ended, new Promise((_, rej) => setTimeout(() => rej(new Error('stream did not end')), 20_000))]);
  t.pass('closing the server ends the streams');
  t.equal(await stopped, 0);
});

t.test('bounds: the disconnected vehicle heard from longest ago is forgotten; fields per vehicle are capped', async (t) => {
  // The bounds are per process (each worker keeps its own vehicles): one process here.
  const { server, pki, http } = await start(t, {
    workers: 1,
    monitoring: { prometheus_metrics_port: 0, fleet_view: { max_vehicles: 2, max_fields_per_vehicle: 3 } },
  });
  const vins = ['5YJ3E7EB2NF000011', '5YJ3E7EB2NF000012', '5YJ3E7EB2NF000013'];
  for (const vin of vins.slice(0, 2)) {
    const v = await connect(server, pki, vin);
    await sendAcked(v, 'x', vFrame('x', vin, keyData(1)));
    await v.close();
    await waitUntil(async () => (await fleet(http)).vehicles.some((r) => r.vin === vin && !r.connected), 10_000, `${vin} disconnected`);
  }
  const c = await connect(server, pki, vins[2]);
  await sendAcked(c, 'x', vFrame('x', vins[2], keyData(1)));
  const f = await fleet(http);
  t.same(
    f.vehicles.map((r) => r.vin),
    vins.slice(1),
    'the first one, heard from longest ago, is gone',
  );
  t.equal(f.health.vehicles_known, 2);
  const d = JSON.parse((await http(`/api/vehicles/${vins[2]}`)).text) as { fields: unknown[]; fields_dropped: number };
  t.equal(d.fields.length, 3, 'three fields kept');
  t.equal(d.fields_dropped, 3);
  t.equal((await http(`/api/vehicles/${vins[0]}`)).status, 404);
  await c.close();
  t.equal(await server.stop(), 0);
});

t.test("workers: 2: the primary merges both workers' vehicles", async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const mosq = await startMosquitto(dir);
  t.teardown(() => mosq.stop());
  const port = await freePort();
  const server = await startServer(dir, {
    workers: 2,
    records: { V: ['mqtt'] },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
    mqtt: { broker: `127.0.0.1:${mosq.port}`, qos: 1 },
    monitoring: { prometheus_metrics_port: port },
  });
  t.teardown(async () => {
    if (server.proc.exitCode === null) server.proc.kill('SIGKILL');
  });
  const http = httpOf(port);
  const vins = ['5YJ3E7EB2NF000021', '5YJ3E7EB2NF000022', '5YJ3E7EB2NF000023', '5YJ3E7EB2NF000024'];
  const clients: VehicleClient[] = [];
  for (const [i, vin] of vins.entries()) {
    const v = await connect(server, pki, vin);
    clients.push(v);
    await sendAcked(v, `t${i}`, vFrame(`t${i}`, vin, keyData(10 + i)));
  }
  const workers = (JSON.parse((await http('/vehicles')).text) as { vehicles: { worker: number }[] }).vehicles.map((v) => v.worker);
  t.same([...new Set(workers)].sort(), [1, 2], 'vehicles are spread over both workers');
  const f = await waitUntil(
    async () => {
      const x = await fleet(http);
      return x.vehicles.length === 4 && x.vehicles.every((v) => v.key.speed !== null) ? x : undefined;
    },
    10_000,
    'every vehicle in /api/fleet',
  );
  t.same(
    f.vehicles.map((v) => [v.vin, v.key.speed, v.connected]),
    vins.map((vin, i) => [vin, 10 + i, true]),
  );
  t.equal(f.health.workers, 2);
  t.equal(f.health.vehicles_connected, 4);
  t.equal(f.health.frames_acked_total, 4, 'totals summed over workers');
  const d = JSON.parse((await http(`/api/vehicles/${vins[3]}`)).text) as { vin: string; fields: { name: string }[] };
  t.equal(d.vin, vins[3]);
  t.equal(d.fields.length, 6);

  const s = await openSse(port, '/api/events');
  const full = ev((await s.next((e) => e.event === 'fleet')).data);
  t.same(
    rowsOf(full)
      .map((v) => v.vin)
      .sort(),
    vins,
    'the event stream speaks for both workers',
  );
  await clients[0].close();
  const gone = await s.next((e) => e.event === 'fleet' && !!ev(e.data).changed?.some((v) => v.vin === vins[0] && v.connected === false), 1, 15_000);
  t.ok(gone, 'a disconnect on a worker reaches the stream');
  s.close();
  for (const c of clients.slice(1)) await c.close();
  t.equal(await server.stop(), 0);
});
