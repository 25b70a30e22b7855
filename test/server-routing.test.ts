import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixturesDir } from './helpers/fixtures.js';
import { makePki } from './helpers/pki.js';
import { sleep } from './helpers/ports.js';
import { brokerConnected, startServer } from './helpers/server.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { subscribe } from './helpers/subscriber.js';
import { connectVehicle, vFrame } from './helpers/vehicle.js';

// A frame is acked only when every producer of its type took it; the rate limit slows, never drops.
const VIN = '5YJ3E1EA7KF000006';
const speed = (v: number) => [{ key: 'VehicleSpeed', value: { float_value: v } }];

t.test('two producers for V: one refusal means no response at all', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const server = await startServer(dir, {
    records: { V: ['logger', 'flaky'] },
    producers: { flaky: { module: join(fixturesDir(), 'plugins', 'flaky-producer.js') } },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
  });
  const v = await connectVehicle(server.port, await pki.vehicle(VIN), pki.ca.certPem);
  v.send(vFrame('ok-1', VIN, speed(1)));
  v.send(vFrame('fail-1', VIN, speed(2)));
  v.send(vFrame('ok-2', VIN, speed(3)));
  t.equal((await v.response('ok-1')).kind, 'ack');
  t.equal((await v.response('ok-2')).kind, 'ack');
  await sleep(500);
  t.notOk(
    v.responses.some((r) => r.txid === 'fail-1'),
    'the refused frame gets neither ack nor error',
  );
  t.ok(
    server.logs.some((l) => l.event === 'record_unacked' && l.txid === 'fail-1'),
    'and is logged as unacked',
  );
  t.ok(
    server.logs.some((l) => l.event === 'record' && l.txid === 'fail-1'),
    'the logger producer still saw it (delivery is at least once)',
  );
  await v.close();
  t.equal(await server.stop(), 0);
});

t.test('rate limit: a connection over its limit is slowed, every frame still acked', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const server = await startServer(dir, {
    records: { V: ['logger'] },
    rate_limit: { enabled: true, message_limit: 5, message_interval_time: 1 },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
  });
  const v = await connectVehicle(server.port, await pki.vehicle(VIN), pki.ca.certPem);
  const started = Date.now();
  for (let i = 0; i < 12; i++) v.send(vFrame(`rl-${i}`, VIN, speed(i)));
  await v.response('rl-4');
  await sleep(300);
  t.equal(v.responses.length, 5, 'the first window takes 5 frames; the rest wait');
  await Promise.all(Array.from({ length: 12 }, (_, i) => v.response(`rl-${i}`, 10_000)));
  const elapsed = Date.now() - started;
  t.ok(elapsed >= 2000, `12 frames at 5 per second take at least two more windows (${elapsed} ms)`);
  t.ok(
    v.responses.every((r) => r.kind === 'ack'),
    'nothing refused or dropped for the rate',
  );
  t.equal(v.responses.length, 12);
  await v.close();
  t.equal(await server.stop(), 0);
});

t.test('a plugin written as a class, routed beside mqtt: every frame acked, every field published', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const mosq = await startMosquitto(dir);
  t.teardown(() => mosq.stop());
  const sub = await subscribe(mosq.url, 'cls/#');
  t.teardown(() => sub.close());
  const server = await startServer(dir, {
    records: { V: ['mqtt', 'archive'] },
    producers: { archive: { module: join(fixturesDir(), 'plugins', 'class-producer.js'), options: { dir } } },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
    mqtt: { broker: `127.0.0.1:${mosq.port}`, topic_base: 'cls', qos: 1 },
  });
  t.teardown(() => server.stop());
  await brokerConnected(server);
  const v = await connectVehicle(server.port, await pki.vehicle(VIN), pki.ca.certPem);
  t.teardown(() => v.close());
  for (let i = 0; i < 5; i++) v.send(vFrame(`cls-${i}`, VIN, speed(i)));
  for (let i = 0; i < 5; i++) t.equal((await v.response(`cls-${i}`, 10_000)).kind, 'ack', `cls-${i} acked`);
  const rows = readFileSync(join(dir, 'class.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { txid: string });
  t.same(
    rows
      .map((r) => r.txid)
      .filter((x) => x.startsWith('cls-'))
      .sort(),
    ['cls-0', 'cls-1', 'cls-2', 'cls-3', 'cls-4'],
    'the class instance took each record',
  );
  await sub.waitFor((m) => m.filter((x) => x.topic === `cls/${VIN}/v/VehicleSpeed`).length >= 5);
  t.notOk(
    server.logs.some((l) => l.event === 'record_unacked'),
    'no record left unanswered',
  );
});
