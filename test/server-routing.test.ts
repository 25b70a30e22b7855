import t from 'tap';
import { join } from 'node:path';
import { fixturesDir } from './helpers/fixtures.js';
import { makePki } from './helpers/pki.js';
import { sleep } from './helpers/ports.js';
import { startServer } from './helpers/server.js';
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
  t.notOk(v.responses.some((r) => r.txid === 'fail-1'), 'the refused frame gets neither ack nor error');
  t.ok(server.logs.some((l) => l.event === 'record_unacked' && l.txid === 'fail-1'), 'and is logged as unacked');
  t.ok(server.logs.some((l) => l.event === 'record' && l.txid === 'fail-1'), 'the logger producer still saw it (delivery is at least once)');
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
  t.ok(v.responses.every((r) => r.kind === 'ack'), 'nothing refused or dropped for the rate');
  t.equal(v.responses.length, 12);
  await v.close();
  t.equal(await server.stop(), 0);
});
