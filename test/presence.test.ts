import t from 'tap';
import type { Test } from 'tap';
import { startMosquitto, type Mosquitto } from './helpers/mosquitto.js';
import { makePki, type TestPki } from './helpers/pki.js';
import { freePort, waitUntil } from './helpers/ports.js';
import { startServer, type ServerProcess } from './helpers/server.js';
import { subscribe, type Subscriber } from './helpers/subscriber.js';
import { connectVehicle, vFrame, type VehicleClient } from './helpers/vehicle.js';
import { renderTemplates } from './helpers/jinja.js';

// Presence per vehicle end to end: the real server (one process, and two workers), a real
// mosquitto, vehicles with two connections at once, subscribers that start late, Home
// Assistant's template rendered by real Jinja2, a server killed with SIGKILL.

const VIN = '5YJ3E1EA7KF300001';
const T = 'telemetry';
const TOPIC = `${T}/${VIN}/presence`;
const WAIT = 20_000;

interface Presence {
  online: boolean;
  connections: number;
  since: string;
  server?: string;
}

const speed = (v: number) => [{ key: 'VehicleSpeed', value: { float_value: v } }];

async function setup(t: Test, extra: Record<string, unknown>, opts: { clientId?: string; mosq?: Mosquitto; pki?: TestPki; dir?: string } = {}) {
  // t.testdir() empties the folder: servers sharing a test share the first one's.
  const dir = opts.dir ?? t.testdir();
  const pki = opts.pki ?? (await makePki(dir));
  let mosq = opts.mosq;
  if (!mosq) {
    const m = (mosq = await startMosquitto(dir));
    t.teardown(() => m.stop());
  }
  const monitoringPort = await freePort();
  const server = await startServer(dir, {
    workers: 1,
    records: { V: ['mqtt'] },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
    mqtt: { broker: `127.0.0.1:${mosq.port}`, topic_base: T, qos: 1, client_id: opts.clientId ?? 'presence-test', ha_discovery: { enabled: true } },
    monitoring: { prometheus_metrics_port: monitoringPort },
    ...extra,
  });
  t.teardown(async () => {
    if (server.proc.exitCode === null && server.proc.signalCode === null) await server.stop().catch(() => server.proc.kill('SIGKILL'));
  });
  const http = async (path: string) => {
    const res = await fetch(`http://127.0.0.1:${monitoringPort}${path}`);
    return res.text();
  };
  return { dir, pki, mosq, server, http };
}

/** What a subscriber that starts now reads first: the retained presence. */
async function lateRead(url: string): Promise<{ p: Presence; retain: boolean }> {
  const late = await subscribe(url, TOPIC);
  try {
    await late.waitFor((m) => m.length > 0, WAIT, 'the retained presence');
    return { p: JSON.parse(late.messages[0].payload) as Presence, retain: late.messages[0].retain };
  } finally {
    await late.close();
  }
}

const presences = (sub: Subscriber): Presence[] => sub.messages.filter((m) => m.topic === TOPIC).map((m) => JSON.parse(m.payload) as Presence);

/** Waits until the latest presence published matches. */
async function until(sub: Subscriber, what: string, pred: (p: Presence) => boolean): Promise<Presence> {
  await sub.waitFor(
    () => {
      const all = presences(sub);
      return all.length > 0 && pred(all[all.length - 1]);
    },
    WAIT,
    what,
  );
  return presences(sub).at(-1)!;
}

function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`no ${name} in /metrics`);
  return Number(line.split(' ').pop());
}

async function connect(server: ServerProcess, pki: TestPki): Promise<VehicleClient> {
  return connectVehicle(server.port, await pki.vehicle(VIN), pki.ca.certPem);
}

async function sendFrame(car: VehicleClient, txid: string): Promise<void> {
  car.send(vFrame(txid, VIN, speed(1)));
  const r = await car.response(txid, WAIT);
  if (r.kind !== 'ack') throw new Error(`${txid}: ${r.kind} ${r.reason}`);
}

t.test('one process: online while any connection is open, offline after the last; Home Assistant shows ON then OFF', async (t) => {
  const { pki, mosq, server, http } = await setup(t, { presence: { close_older_after_ms: 0 } });
  const sub = await subscribe(mosq.url, `${T}/#`);
  t.teardown(() => sub.close());
  const haSub = await subscribe(mosq.url, `homeassistant/binary_sensor/${VIN}/connectivity/config`);
  t.teardown(() => haSub.close());

  const a = await connect(server, pki);
  t.teardown(() => a.close());
  await sendFrame(a, 'a-1');
  await until(sub, 'online with one connection', (p) => p.online && p.connections === 1);
  const b = await connect(server, pki);
  t.teardown(() => b.close());
  await sendFrame(b, 'b-1');
  await until(sub, 'online with two connections', (p) => p.online && p.connections === 2);
  t.same((await lateRead(mosq.url)).p.connections, 2, 'a late subscriber reads two connections');
  const m = await http('/metrics');
  t.equal(metric(m, 'fleet_telemetry_vehicles_connected'), 1, '/metrics: one vehicle');
  t.equal(metric(m, 'fleet_telemetry_vehicle_connections_open'), 2, '/metrics: two connections');
  const rows = JSON.parse(await http('/vehicles')) as { count: number; vehicles: { vin: string; connections: number }[] };
  t.match(rows, { count: 1, vehicles: [{ vin: VIN, connections: 2 }] }, '/vehicles: one row for the vehicle');

  // The old connection closes while the new one streams: the connectivity record says
  // DISCONNECTED, the presence still online.
  await a.close();
  await sub.waitFor((ms) => ms.some((x) => x.topic === `${T}/${VIN}/connectivity` && x.payload.includes('DISCONNECTED')), WAIT, 'the DISCONNECTED record of A');
  const one = await until(sub, 'online with one connection after A closed', (p) => p.connections === 1);
  t.equal(one.online, true, 'still online with B open');
  await sendFrame(b, 'b-2');
  const late = await lateRead(mosq.url);
  t.ok(late.retain, 'retained');
  t.match(late.p, { online: true, connections: 1 }, 'a late subscriber sees the vehicle online');

  // Home Assistant's connectivity entity reads the presence and renders ON.
  await haSub.waitFor((ms) => ms.length > 0, WAIT, 'the connectivity entity config');
  const config = JSON.parse(haSub.messages[0].payload) as { state_topic: string; value_template: string; device_class: string };
  t.equal(config.state_topic, TOPIC, 'the entity reads the presence topic');
  t.equal(config.device_class, 'connectivity');
  const on = renderTemplates([{ template: config.value_template, payload: JSON.stringify(late.p) }]);
  t.same(on, [{ ok: 'ON' }], 'the entity renders ON while B streams');

  await b.close();
  const off = await until(sub, 'offline after the last connection closed', (p) => !p.online);
  t.equal(off.connections, 0);
  const lateOff = await lateRead(mosq.url);
  t.match(lateOff.p, { online: false, connections: 0 }, 'a late subscriber sees the vehicle offline');
  t.same(renderTemplates([{ template: config.value_template, payload: JSON.stringify(lateOff.p) }]), [{ ok: 'OFF' }], 'the entity renders OFF');

  // Every presence while a connection was open said online; offline came once, last.
  const seq = presences(sub);
  t.same(
    seq.map((p) => [p.online, p.connections]),
    [
      [true, 1],
      [true, 2],
      [true, 1],
      [false, 0],
    ],
    'presence sequence',
  );
  t.equal(metric(await http('/metrics'), 'fleet_telemetry_older_connections_closed_total'), 0, 'grace 0 keeps both connections');
});

t.test('one process: the older connection is closed after the grace period, logged and counted', async (t) => {
  const GRACE = 400;
  const { pki, mosq, server, http } = await setup(t, { presence: { close_older_after_ms: GRACE } });
  const sub = await subscribe(mosq.url, TOPIC);
  t.teardown(() => sub.close());
  const a = await connect(server, pki);
  t.teardown(() => a.close());
  await sendFrame(a, 'a-1');
  const b = await connect(server, pki);
  t.teardown(() => b.close());
  await until(sub, 'two connections', (p) => p.connections === 2);
  // The grace period starts when the server handles B's first frame: after it was sent.
  const sentAt = Date.now();
  await sendFrame(b, 'b-1');
  const closed = await a.closed;
  t.ok(Date.now() - sentAt >= GRACE - 20, 'not before the grace period');
  t.equal(closed.code, 4000, 'close code 4000');
  t.match(closed.reason, /newer connection/);
  const line = await server.waitForLog((l) => l.event === 'older_connection_closed', WAIT);
  t.match(line, { level: 30, vin: VIN, code: 4000 }, 'an info log line');
  const p = await until(sub, 'one connection left', (x) => x.connections === 1);
  t.equal(p.online, true, 'the vehicle stays online');
  await sendFrame(b, 'b-2');
  t.match((await lateRead(mosq.url)).p, { online: true, connections: 1 });
  await waitUntil(async () => metric(await http('/metrics'), 'fleet_telemetry_older_connections_closed_total') === 1, WAIT, 'the metric');
  t.pass('older_connections_closed_total is 1');
  t.notOk(
    presences(sub).some((x) => !x.online),
    'never offline while B was open',
  );

  // A clean stop closes B: the vehicle is published offline before the broker connection goes.
  t.equal(await server.stop(), 0, 'exit 0 on SIGTERM');
  t.match((await lateRead(mosq.url)).p, { online: false, connections: 0 }, 'offline after a clean stop');
});

t.test('two workers: one vehicle on both, online until the last connection closes', async (t) => {
  const GRACE = 1500;
  const { pki, mosq, server, http } = await setup(t, { workers: 2, presence: { close_older_after_ms: GRACE } }, { clientId: 'presence-workers' });
  const sub = await subscribe(mosq.url, TOPIC);
  t.teardown(() => sub.close());
  await waitUntil(() => server.logs.filter((l) => l.event === 'mqtt_connected').length >= 2, WAIT, 'both workers connected to the broker');

  // Round-robin usually puts consecutive connections on different workers; open until it did.
  const open: { car: VehicleClient; worker: number }[] = [];
  const workerOf = async (nth: number) => {
    const lines = await waitUntil(
      () => {
        const l = server.logs.filter((x) => x.event === 'vehicle_connected' && x.vin === VIN);
        return l.length >= nth ? l : undefined;
      },
      WAIT,
      'vehicle_connected',
    );
    return lines[nth - 1].worker as number;
  };
  let opened = 0;
  while (new Set(open.map((o) => o.worker)).size < 2) {
    if (opened === 8) throw new Error('8 connections all on one worker');
    const car = await connect(server, pki);
    t.teardown(() => car.close());
    open.push({ car, worker: await workerOf(++opened) });
  }
  const a = open.find((o) => o.worker === open[0].worker)!;
  const b = open.find((o) => o.worker !== a.worker)!;
  for (const o of open) if (o !== a && o !== b) await o.car.close();
  await until(sub, 'two connections', (p) => p.online && p.connections === 2);
  t.not(a.worker, b.worker, `one connection on worker ${a.worker}, one on worker ${b.worker}`);
  t.match((await lateRead(mosq.url)).p, { online: true, connections: 2 }, 'a late subscriber reads both workers’ connections');
  const m = await http('/metrics');
  t.equal(metric(m, 'fleet_telemetry_vehicles_connected'), 1, '/metrics counts the vehicle once across workers');
  t.equal(metric(m, 'fleet_telemetry_vehicle_connections_open'), 2);
  const rows = JSON.parse(await http('/vehicles')) as { count: number; vehicles: { connections: number }[] };
  t.match(rows, { count: 1, vehicles: [{ connections: 2 }] }, '/vehicles: one row');
  const fleet = JSON.parse(await http('/api/fleet')) as { health: { vehicles_connected: number } };
  t.equal(fleet.health.vehicles_connected, 1, 'the fleet view counts it once');

  // The newer connection (B, on the other worker) sends a frame: A is closed after the grace period.
  await sendFrame(b.car, 'b-1');
  const closed = await a.car.closed;
  t.equal(closed.code, 4000, 'the older connection, on the other worker, closed with 4000');
  const one = await until(sub, 'one connection left', (p) => p.connections === 1);
  t.equal(one.online, true, 'online while B is open');
  t.match((await lateRead(mosq.url)).p, { online: true, connections: 1 }, 'a late subscriber sees it online');
  await waitUntil(async () => metric(await http('/metrics'), 'fleet_telemetry_older_connections_closed_total') === 1, WAIT, 'the metric');

  await b.car.close();
  await until(sub, 'offline', (p) => !p.online);
  t.match((await lateRead(mosq.url)).p, { online: false, connections: 0 }, 'offline once the last connection closed');
  const seq = presences(sub);
  t.ok(
    seq.slice(0, -1).every((p) => p.online),
    'offline only at the end',
  );

  // A clean stop of every worker: the primary publishes the vehicle offline through a worker
  // whose producers still run.
  const c = await connect(server, pki);
  t.teardown(() => c.close());
  await until(sub, 'online again', (p) => p.online);
  t.equal(await server.stop(), 0, 'exit 0 on SIGTERM');
  t.match((await lateRead(mosq.url)).p, { online: false, connections: 0 }, 'offline after a clean stop');
});

t.test('a server killed with a vehicle online: another server corrects it when the Last Will fires', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const mosq = await startMosquitto(dir);
  t.teardown(() => mosq.stop());
  const one = await setup(t, {}, { clientId: 'presence-one', mosq, pki, dir });
  const two = await setup(t, {}, { clientId: 'presence-two', mosq, pki, dir });
  const sub = await subscribe(mosq.url, TOPIC);
  t.teardown(() => sub.close());
  await two.server.waitForLog((l) => l.event === 'mqtt_connected', WAIT);
  const car = await connect(one.server, pki);
  t.teardown(() => car.close());
  await sendFrame(car, 'k-1');
  const online = await until(sub, 'online', (p) => p.online);
  t.equal(online.server, 'fleet-telemetry/presence-one/status', 'the presence names its server');

  one.server.proc.kill('SIGKILL');
  await one.server.exited;
  const off = await until(sub, 'offline after the kill', (p) => !p.online);
  t.equal(off.server, 'fleet-telemetry/presence-two/status', 'published offline by the other server');
  t.match((await lateRead(mosq.url)).p, { online: false, connections: 0 }, 'a late subscriber sees it offline');
});

t.test('a server killed and started again: a vehicle that stays away is published offline', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const mosq = await startMosquitto(dir);
  t.teardown(() => mosq.stop());
  const config = { presence: { stale_after_ms: 1000 } };
  const first = await setup(t, config, { clientId: 'presence-restart', mosq, pki, dir });
  const sub = await subscribe(mosq.url, TOPIC);
  t.teardown(() => sub.close());
  const car = await connect(first.server, pki);
  t.teardown(() => car.close());
  await sendFrame(car, 'r-1');
  await until(sub, 'online', (p) => p.online);
  first.server.proc.kill('SIGKILL');
  await first.server.exited;
  await car.closed;
  t.match((await lateRead(mosq.url)).p, { online: true }, 'the killed server left the vehicle online');

  const second = await setup(t, config, { clientId: 'presence-restart', mosq, pki, dir });
  await second.server.waitForLog((l) => l.event === 'mqtt_connected', WAIT);
  const off = await until(sub, 'offline', (p) => !p.online);
  t.equal(off.connections, 0);
  t.match((await lateRead(mosq.url)).p, { online: false }, 'a late subscriber sees it offline');
});
