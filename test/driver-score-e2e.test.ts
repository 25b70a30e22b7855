import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMosquitto } from './helpers/mosquitto.js';
import { makePki } from './helpers/pki.js';
import { runCli, testdir } from './helpers/cli.js';
import { startServer } from './helpers/server.js';
import { waitUntil } from './helpers/ports.js';
import { subscribe, type Received } from './helpers/subscriber.js';
import { connectVehicle, vFrame } from './helpers/vehicle.js';

// The pipeline as an operator runs it: the server with the shipped plugin named as in
// config.example.json, from a config folder outside the package; vehicles; a subscriber.
t.test('server + driver-score + emulate --harsh-every: scored trips with events on derived/trip', async (t) => {
  const work = testdir(t);
  const pki = await makePki(work);
  writeFileSync(join(pki.dir, 'ca.key'), pki.ca.keyPem); // the emulator issues vehicle certificates from it
  const mosq = await startMosquitto(work);
  t.teardown(() => mosq.stop());
  const sub = await subscribe(mosq.url, 'ds/+/derived/#');
  t.teardown(() => sub.close());
  // Outside the package: "fleet-telemetry/…" cannot resolve from here and must load from the package itself.
  const outside = mkdtempSync(join(tmpdir(), 'ft-driver-score-'));
  t.teardown(() => rmSync(outside, { recursive: true, force: true }));
  const server = await startServer(outside, {
    records: { V: ['mqtt', 'driver_score'], connectivity: ['mqtt', 'driver_score'] },
    producers: { driver_score: { module: 'fleet-telemetry/plugins/driver-score', options: { silence_end_s: 1.5, live_interval_s: 1 } } },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
    mqtt: { broker: `127.0.0.1:${mosq.port}`, topic_base: 'ds', qos: 1 },
    monitoring: { prometheus_metrics_port: 0 },
  });
  t.teardown(() => server.stop());
  await server.waitForLog((l) => l.event === 'mqtt_connected');
  const monitorPort = (await server.waitForLog((l) => l.event === 'monitoring_listening')).port as number;

  const run = await runCli(
    [
      'emulate',
      '--url',
      `wss://localhost:${server.port}/`,
      '--ca',
      pki.caFile,
      '--cert-dir',
      pki.dir,
      '--vehicles',
      '2',
      '--rate',
      '25',
      '--frames',
      '250',
      '--harsh-every',
      '5',
      '--alerts-every',
      '0',
      '--errors-every',
      '0',
      '--progress',
      '0',
      '--json',
    ],
    work,
    { killAfterMs: 120_000 },
  );
  t.equal(run.code, 0, `every frame acked: ${run.stderr.slice(-300)}`);
  const trips = () => sub.messages.filter((m) => /^ds\/5YJ3E1EA7KF00000[12]\/derived\/trip$/.test(m.topic)).map((m: Received) => JSON.parse(m.payload));
  await sub.waitFor(() => trips().some((x) => x.harsh_braking + x.rapid_acceleration > 0), 20_000, 'a scored trip with events');
  const parked = trips().filter((x) => x.end_reason === 'park');
  t.ok(parked.length >= 2, `trips ended in P: ${parked.length}`);
  for (const x of parked) {
    t.equal(x.score, Math.max(0, 100 - 5 * x.harsh_braking - 3 * x.rapid_acceleration - 3 * x.harsh_cornering), `score follows the formula (${x.score})`);
    t.equal(x.harsh_cornering, 0, 'the emulator makes no harsh corners');
    t.equal(x.distance_source, 'odometer');
    t.ok(x.distance_mi > 0 && x.max_speed_mph > 0 && x.duration_s >= 0, 'distance, speed, duration');
  }
  t.ok(parked.reduce((n, x) => n + x.harsh_braking + x.rapid_acceleration, 0) > 0, 'events are counted');
  t.ok(
    sub.messages.some((m) => m.topic.endsWith('/derived/trip_live')),
    'running trips show on trip_live',
  );
  t.ok(!server.logs.some((l) => l.event === 'derived_publish_failed'), 'no derived publish failed');

  // The fleet view shows each vehicle's last trip score, the one last published on derived/trip.
  const vin = '5YJ3E1EA7KF000001';
  const lastScore = () => {
    const mine = sub.messages.filter((m) => m.topic === `ds/${vin}/derived/trip`);
    return mine.length ? (JSON.parse(mine[mine.length - 1].payload) as { score: number }).score : undefined;
  };
  const row = await waitUntil(
    async () => {
      const body = (await (await fetch(`http://127.0.0.1:${monitorPort}/api/fleet`)).json()) as { vehicles: { vin: string; trip_score: number | null }[] };
      const r = body.vehicles.find((v) => v.vin === vin);
      return r && r.trip_score !== null && r.trip_score === lastScore() ? r : undefined;
    },
    10_000,
    'the fleet view shows the last trip score',
  );
  t.equal(row.trip_score, lastScore(), `fleet view trip_score ${row.trip_score}`);
});

t.test('a trip ends on disconnect and on silence (real server, connectivity records)', async (t) => {
  const work = testdir(t);
  const pki = await makePki(work);
  const mosq = await startMosquitto(work);
  t.teardown(() => mosq.stop());
  const sub = await subscribe(mosq.url, 'ds/+/derived/trip');
  t.teardown(() => sub.close());
  // Connectivity is not routed: it goes to every producer (the plugin sees disconnects).
  const server = await startServer(work, {
    records: { V: ['mqtt', 'driver_score'] },
    producers: { driver_score: { module: 'fleet-telemetry/plugins/driver-score', options: { silence_end_s: 1 } } },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
    mqtt: { broker: `127.0.0.1:${mosq.port}`, topic_base: 'ds', qos: 1 },
  });
  t.teardown(() => server.stop());
  await server.waitForLog((l) => l.event === 'mqtt_connected');
  const drive = [
    { key: 'Gear', value: { shift_state_value: 5 } },
    { key: 'VehicleSpeed', value: { float_value: 30 } },
  ];
  const brake = [{ key: 'LongitudinalAcceleration', value: { double_value: -6 } }];

  const a = await connectVehicle(server.port, await pki.vehicle('5YJ3E1EA7KF000031'), pki.ca.certPem);
  a.send(vFrame('d-1', '5YJ3E1EA7KF000031', drive));
  a.send(vFrame('d-2', '5YJ3E1EA7KF000031', brake));
  await a.response('d-2');
  await a.close();
  await sub.waitFor((m) => m.some((x) => x.topic === 'ds/5YJ3E1EA7KF000031/derived/trip'), 10_000, 'trip ended by the disconnect');
  t.match(JSON.parse(sub.messages.find((x) => x.topic === 'ds/5YJ3E1EA7KF000031/derived/trip')!.payload), {
    end_reason: 'disconnect',
    harsh_braking: 1,
    score: 95,
  });

  const b = await connectVehicle(server.port, await pki.vehicle('5YJ3E1EA7KF000032'), pki.ca.certPem);
  t.teardown(() => b.close());
  b.send(vFrame('s-1', '5YJ3E1EA7KF000032', drive));
  await b.response('s-1');
  await sub.waitFor((m) => m.some((x) => x.topic === 'ds/5YJ3E1EA7KF000032/derived/trip'), 15_000, 'trip ended by silence');
  t.match(JSON.parse(sub.messages.find((x) => x.topic === 'ds/5YJ3E1EA7KF000032/derived/trip')!.payload), {
    end_reason: 'silence',
    max_speed_mph: 30,
    harsh_braking: 0,
    score: 100,
  });
  t.equal(b.ws.readyState, 1, 'the silent vehicle is still connected');
});
