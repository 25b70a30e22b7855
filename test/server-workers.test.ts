import t from 'tap';
import type { Test } from 'tap';
import { canonicalJson, loadConformance } from './helpers/fixtures.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { makePki, type TestPki } from './helpers/pki.js';
import { freePort, sleep, waitUntil } from './helpers/ports.js';
import { startServer, type ServerProcess } from './helpers/server.js';
import { subscribe, type Received } from './helpers/subscriber.js';
import { connectVehicle, vFrame, type VehicleClient } from './helpers/vehicle.js';

// `workers: 2` end to end: the real CLI forks two workers behind one port, a real mosquitto,
// real mTLS vehicles; the primary's /metrics, /vehicles and /readyz speak for both.
const conformance = loadConformance();
const VINS = ['5YJ3E1EA7KF100001', '5YJ3E1EA7KF100002', '5YJ3E1EA7KF100003', '5YJ3E1EA7KF100004'];

async function setup(t: Test, extra: Record<string, unknown> = {}) {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const mosq = await startMosquitto(dir);
  t.teardown(() => mosq.stop());
  const monitoringPort = await freePort();
  const server = await startServer(dir, {
    workers: 2,
    records: { V: ['mqtt'], alerts: ['mqtt'], errors: ['mqtt'] },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
    mqtt: { broker: `127.0.0.1:${mosq.port}`, topic_base: conformance.topic_base, qos: 1 },
    monitoring: { prometheus_metrics_port: monitoringPort },
    status_port: 0,
    ...extra,
  });
  t.teardown(async () => {
    if (server.proc.exitCode === null) server.proc.kill('SIGKILL');
  });
  const http = async (path: string) => {
    const res = await fetch(`http://127.0.0.1:${monitoringPort}${path}`);
    return { status: res.status, body: await res.text() };
  };
  return { dir, pki, mosq, server, http };
}

function workerPids(server: ServerProcess): Map<number, number> {
  const pids = new Map<number, number>();
  for (const l of server.logs) if (l.event === 'worker_started') pids.set(l.worker as number, l.pid as number);
  return pids;
}

function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`no ${name} in /metrics`);
  return Number(line.split(' ').pop());
}

async function vehicles(http: (p: string) => Promise<{ body: string }>): Promise<{ vin: string; worker: number }[]> {
  return (JSON.parse((await http('/vehicles')).body) as { vehicles: { vin: string; worker: number }[] }).vehicles;
}

/** Connects every VIN (retrying while a worker restarts) and returns the clients. */
async function connectAll(port: number, pki: TestPki, vins: string[]): Promise<VehicleClient[]> {
  const out: VehicleClient[] = [];
  for (const vin of vins) {
    const cert = await pki.vehicle(vin);
    out.push(await waitUntil(() => connectVehicle(port, cert, pki.ca.certPem).catch(() => undefined), 10_000, `${vin} connected`));
  }
  return out;
}

const speedTopic = (vin: string) => `${conformance.topic_base}/${vin}/v/VehicleSpeed`;

t.test('the public vectors end to end through a worker', async (t) => {
  const { pki, mosq, server, http } = await setup(t);
  t.equal(workerPids(server).size, 2, 'two workers serving before "listening"');
  t.ok(server.statusPort, 'the primary serves status_port');
  const sub = await subscribe(mosq.url, `${conformance.topic_base}/#`);
  t.teardown(() => sub.close());
  const vehicle = await connectVehicle(server.port, await pki.vehicle(conformance.vin), pki.ca.certPem);
  await sub.waitFor((m) => m.some((x) => x.topic.endsWith('/connectivity')), 5000, 'CONNECTED record');
  const fieldPublishes = (from: number): Received[] => sub.messages.slice(from).filter((m) => !m.topic.endsWith('/connectivity'));
  for (const c of conformance.cases) {
    const before = sub.messages.length;
    vehicle.send(Buffer.from(c.frame_b64, 'base64'));
    const r = await vehicle.response(c.expect.txid);
    t.equal(r.kind, c.expect.response, `${c.name}: response kind`);
    if (c.expect.topic !== undefined && r.kind === 'ack') t.equal(r.topic, c.expect.topic, `${c.name}: ack topic`);
    if (c.expect.publishes.length) await sub.waitFor(() => fieldPublishes(before).length >= c.expect.publishes.length, 5000, `${c.name}: publishes`);
    else await sleep(300);
    const got = fieldPublishes(before);
    t.same(
      got.map((m) => m.topic),
      c.expect.publishes.map((p) => p.topic),
      `${c.name}: topics`,
    );
    for (let i = 0; i < Math.min(got.length, c.expect.publishes.length); i++) {
      t.equal(canonicalJson(got[i].payload), canonicalJson(c.expect.publishes[i].payload), `${c.name}: payload of ${got[i].topic}`);
    }
  }
  t.equal((await http('/readyz')).status, 200, '/readyz: both workers ready');
  t.equal((await fetch(`http://127.0.0.1:${server.statusPort}/readyz`)).status, 200, 'status_port /readyz: ready');
  await vehicle.close();
  // Without the broker no worker can ack: both /readyz say so, naming a worker.
  await mosq.stop();
  const notReady = await waitUntil(
    async () => {
      const r = await http('/readyz');
      return r.status === 503 ? r : undefined;
    },
    10_000,
    '/readyz 503',
  );
  t.match(JSON.parse(notReady.body), { ready: false, producers: { mqtt: false }, reason: /^worker [12]: / }, 'the reason names a worker');
  const status = await fetch(`http://127.0.0.1:${server.statusPort}/readyz`);
  t.equal(status.status, 503, 'status_port /readyz: not ready');
  t.match(await status.text(), /^not ready: worker [12]: /);
  t.equal(await server.stop(), 0, 'exit 0 on SIGTERM');
});

t.test('vehicles spread over both workers, metrics summed, a killed worker restarted, SIGTERM loses no acked frame', async (t) => {
  const { pki, mosq, server, http } = await setup(t);
  const sub = await subscribe(mosq.url, `${conformance.topic_base}/+/v/#`, { qos: 1 });
  t.teardown(() => sub.close());
  const cars = await connectAll(server.port, pki, VINS);
  const spread = await waitUntil(
    async () => {
      const v = await vehicles(http);
      return v.length === VINS.length ? v : undefined;
    },
    5000,
    'every vehicle in /vehicles',
  );
  t.same(new Set(spread.map((v) => v.worker)), new Set([1, 2]), 'round-robin put vehicles on both workers');
  t.same(spread.map((v) => v.vin).sort(), [...VINS].sort(), '/vehicles lists every VIN once');

  // Every frame acked, through both workers.
  let seq = 0;
  const sendRound = async (clients: VehicleClient[], vins: string[]) => {
    const acked: { vin: string; value: number }[] = [];
    await Promise.all(
      clients.map(async (c, i) => {
        const value = ++seq;
        const txid = `t${value}`;
        c.send(vFrame(txid, vins[i], [{ key: 'VehicleSpeed', value: { float_value: value } }]));
        const r = await c.response(txid);
        if (r.kind === 'ack') acked.push({ vin: vins[i], value });
      }),
    );
    return acked;
  };
  const acked = await sendRound(cars, VINS);
  t.equal(acked.length, VINS.length, 'every frame acked');

  const text = (await http('/metrics')).body;
  t.equal(metric(text, 'fleet_telemetry_vehicle_connections_total'), VINS.length, '/metrics sums connections over workers');
  t.equal(metric(text, 'fleet_telemetry_vehicles_connected'), VINS.length, '/metrics sums connected vehicles');
  t.equal(metric(text, 'fleet_telemetry_frames_received_total{record_type="V",outcome="acked"}'), VINS.length, 'labelled counters summed');
  t.equal(metric(text, 'fleet_telemetry_ack_duration_seconds_count{record_type="V"}'), VINS.length, 'histograms summed');
  // A 0/1 state is the lowest over workers, not their sum: 1 means every worker's link is up.
  t.equal(metric(text, 'fleet_telemetry_broker_connected{producer="mqtt"}'), 1, 'broker_connected is 1, not 2');
  t.equal(metric(text, 'fleet_telemetry_producer_ready{producer="mqtt"}'), 1, 'producer_ready is 1, not 2');

  // kill -9 one worker: the primary restarts it, its vehicles reconnect and are acked again.
  const victim = spread[0].worker;
  const pid = workerPids(server).get(victim)!;
  const onVictim = spread.filter((v) => v.worker === victim).map((v) => v.vin);
  process.kill(pid, 'SIGKILL');
  const exitLine = await server.waitForLog((l) => l.event === 'worker_exited' && l.worker === victim);
  t.equal(exitLine.signal, 'SIGKILL', 'the warn line names the signal');
  t.equal(exitLine.level, 40, 'a warn line');
  const restarted = await server.waitForLog((l) => l.event === 'worker_started' && l.worker === victim && l.pid !== pid, 15_000);
  t.not(restarted.pid, pid, 'a new process serves worker ' + victim);
  await Promise.all(cars.filter((_, i) => onVictim.includes(VINS[i])).map((c) => c.closed));
  const reconnected = await connectAll(server.port, pki, onVictim);
  const again = await sendRound(reconnected, onVictim);
  t.equal(again.length, onVictim.length, 'reconnected vehicles acked again');
  acked.push(...again);
  await waitUntil(async () => (await http('/readyz')).status === 200, 10_000, '/readyz ready again');

  // SIGTERM while frames are in flight: exit 0, and every acked frame reached the subscriber.
  const live = [...cars.filter((_, i) => !onVictim.includes(VINS[i])), ...reconnected];
  const liveVins = [...VINS.filter((v) => !onVictim.includes(v)), ...onVictim];
  const inFlight = liveVins.map((vin, i) => {
    const value = ++seq;
    live[i].send(vFrame(`t${value}`, vin, [{ key: 'VehicleSpeed', value: { float_value: value } }]));
    return { vin, value, client: live[i] };
  });
  const code = await server.stop();
  t.equal(code, 0, 'exit 0 on SIGTERM');
  for (const f of inFlight) if (f.client.responses.some((r) => r.txid === `t${f.value}` && r.kind === 'ack')) acked.push(f);
  for (const c of live) t.equal((await c.closed).code, 1001, 'vehicles closed with 1001');
  await sleep(300);
  const seen = new Set(sub.messages.map((m) => `${m.topic} ${canonicalJson(m.payload)}`));
  const missing = acked.filter((a) => !seen.has(`${speedTopic(a.vin)} ${canonicalJson(JSON.stringify({ value: a.value }))}`));
  t.same(missing, [], `all ${acked.length} acked frames reached the subscriber`);
});

t.test('start-up is all or nothing: a worker that cannot bind fails the start, exit 2, one line', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const busy = await import('node:net').then(({ createServer }) => createServer());
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  t.teardown(() => busy.close());
  const port = (busy.address() as { port: number }).port;
  await t.rejects(
    startServer(dir, {
      workers: 2,
      port,
      records: { V: ['logger'] },
      tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
    }),
    { message: /exited with 2: fleet-telemetry: cannot start: 127\.0\.0\.1:\d+ \(port\) is already in use/ },
  );
});

t.test('--workers overrides the config; the primary owns the embedded broker; each worker its own client id and status', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const server = await startServer(
    dir,
    {
      workers: 1,
      records: { V: ['mqtt'] },
      tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
      mqtt: { broker: 'embedded', embedded_port: 0, topic_base: 'tw', qos: 1, client_id: 'mine' },
    },
    { args: ['--workers', '2'] },
  );
  t.teardown(async () => {
    if (server.proc.exitCode === null) server.proc.kill('SIGKILL');
  });
  t.equal(server.logs.find((l) => l.event === 'listening')!.workers, 2, '--workers 2 beat workers: 1');
  const brokerLine = server.logs.find((l) => l.event === 'embedded_broker_listening')!;
  t.equal(brokerLine.worker, undefined, 'the embedded broker runs in the primary');
  const connected = await waitUntil(
    () => {
      const ids = server.logs.filter((l) => l.event === 'mqtt_connected').map((l) => `${String(l.worker)} ${String(l.client_id)}`);
      return ids.length >= 2 ? ids : undefined;
    },
    10_000,
    'both workers connected',
  );
  t.same(connected.sort(), ['1 mine-w1', '2 mine-w2'], 'mqtt.client_id suffixed -w<k> per worker');
  const sub = await subscribe(`mqtt://127.0.0.1:${server.brokerPort}`, '#');
  t.teardown(() => sub.close());
  await sub.waitFor(
    (m) => ['mine-w1', 'mine-w2'].every((id) => m.some((x) => x.topic === `fleet-telemetry/${id}/status` && x.payload === 'online')),
    5000,
    'a status per worker',
  );
  const vin = VINS[0];
  const car = await connectVehicle(server.port, await pki.vehicle(vin), pki.ca.certPem);
  car.send(vFrame('e1', vin, [{ key: 'VehicleSpeed', value: { float_value: 7 } }]));
  t.equal((await car.response('e1')).kind, 'ack', 'acked through the embedded broker');
  await sub.waitFor((m) => m.some((x) => x.topic === `tw/${vin}/v/VehicleSpeed`), 5000, 'field published');
  await car.close();
  t.equal(await server.stop(), 0, 'exit 0 on SIGTERM');
  await sub.waitFor(
    (m) => ['mine-w1', 'mine-w2'].every((id) => m.some((x) => x.topic === `fleet-telemetry/${id}/status` && x.payload === 'offline')),
    5000,
    'each worker published offline',
  );
});

t.test('--workers takes 1 to 256 or auto', async (t) => {
  const { spawnSync } = await import('node:child_process');
  const { CLI } = await import('./helpers/server.js');
  for (const bad of ['0', '257', 'two', '1.5']) {
    const r = spawnSync(process.execPath, [CLI, 'serve', '--config', 'none.json', '--workers', bad], { encoding: 'utf8' });
    t.equal(r.status, 2, `--workers ${bad}: exit 2`);
    t.match(r.stderr, /--workers must be a whole number from 1 to 256, or auto/);
  }
});

t.test('workers: 1 is one plain process: no primary, no worker', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const server = await startServer(dir, {
    workers: 1,
    records: { V: ['logger'] },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
  });
  const listening = server.logs.find((l) => l.event === 'listening')!;
  t.equal(listening.workers, undefined, 'no workers named');
  t.notOk(
    server.logs.some((l) => l.event === 'worker_started' || l.worker !== undefined),
    'no worker log lines',
  );
  const car = await connectVehicle(server.port, await pki.vehicle(VINS[0]), pki.ca.certPem);
  car.send(vFrame('s1', VINS[0], [{ key: 'VehicleSpeed', value: { float_value: 1 } }]));
  t.equal((await car.response('s1')).kind, 'ack');
  await car.close();
  t.equal(await server.stop(), 0);
});
