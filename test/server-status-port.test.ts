import t from 'tap';
import { makePki } from './helpers/pki.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { startServer } from './helpers/server.js';
import { connectVehicle } from './helpers/vehicle.js';
import { waitUntil } from './helpers/ports.js';

// §1: the plain status port answers liveness on /status (always, as Tesla's server) and readiness
// on /readyz (200 only while records can be acked), for load balancers; it never lists vehicles.

t.test('status_port: /status is liveness, /readyz follows the broker, no VIN anywhere', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const mosq = await startMosquitto(dir);
  t.teardown(() => mosq.stop());
  const VIN = '5YJ3E1EA7KF000041';
  const server = await startServer(dir, {
    status_port: 0,
    records: { V: ['mqtt'] },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
    mqtt: { broker: mosq.url, qos: 1, connect_retry_interval_ms: 300 },
  });
  t.teardown(() => server.stop());
  await server.waitForLog((l) => l.event === 'mqtt_connected');
  const base = `http://127.0.0.1:${server.statusPort}`;
  const get = async (path: string, method = 'GET') => {
    const r = await fetch(base + path, { method });
    return { status: r.status, body: await r.text() };
  };
  const v = await connectVehicle(server.port, await pki.vehicle(VIN), pki.ca.certPem);
  t.teardown(() => v.close());

  t.same(await get('/status'), { status: 200, body: 'ok' }, 'liveness');
  t.same(await get('/readyz'), { status: 200, body: 'ready' }, 'ready while the broker is connected');
  t.equal((await get('/readyz', 'HEAD')).status, 200, 'HEAD too');
  t.equal((await get('/vehicles')).status, 404, 'no vehicle list here');
  t.equal((await get('/metrics')).status, 404, 'no metrics here');

  await mosq.stop();
  await waitUntil(async () => (await get('/readyz')).status === 503, 10_000, '/readyz 503 without a broker');
  const down = await get('/readyz');
  // With workers (make test-workers) the answer names the worker that cannot ack.
  t.match(down.body, /^not ready: (worker \d+: )?a producer cannot take records/);
  t.notMatch(down.body, new RegExp(VIN), 'no VIN in the answer');
  t.same(await get('/status'), { status: 200, body: 'ok' }, 'still alive');

  await mosq.start();
  await waitUntil(async () => (await get('/readyz')).status === 200, 15_000, '/readyz 200 once the broker is back');
  t.pass('ready again');
});
