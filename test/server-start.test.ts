import t from 'tap';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makePki } from './helpers/pki.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { CLI, startServer } from './helpers/server.js';
import { connectVehicle, vFrame } from './helpers/vehicle.js';
import { freePort, sleep, trackChild } from './helpers/ports.js';

// Start-up is all or nothing: a start that fails has no effect outside its own process.

function run(dir: string, config: Record<string, unknown>): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const file = join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify({ host: '127.0.0.1', json_log_enable: true, ...config }));
  const p = spawn(process.execPath, [CLI, 'serve', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  trackChild(p);
  let stderr = '';
  let stdout = '';
  p.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  p.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  return new Promise((resolve) => p.once('exit', (code) => resolve({ code, stderr, stdout })));
}

t.test('a second instance on a busy port exits 2 naming the key, and never touches the broker', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const mosq = await startMosquitto(dir);
  t.teardown(() => mosq.stop());
  const VIN = '5YJ3E1EA7KF000031';
  const tls = { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile };
  const mqtt = { broker: `127.0.0.1:${mosq.port}`, client_id: 'same-installation', qos: 1 };
  const first = await startServer(dir, { records: { V: ['mqtt'] }, tls, mqtt });
  t.teardown(() => first.stop());
  await first.waitForLog((l) => l.event === 'mqtt_connected');

  // Same client id: had it connected, the broker would have dropped the healthy server.
  const second = await run(dir, { port: first.port, records: { V: ['mqtt'] }, tls, mqtt });
  t.equal(second.code, 2, 'exit 2');
  t.match(second.stderr, new RegExp(`127\\.0\\.0\\.1:${first.port} \\(port\\) is already in use`), 'names the address and the key');
  t.notMatch(second.stdout, /mqtt_connecting|mqtt_connected/, 'the failed instance never connected to the broker');

  await sleep(500);
  t.notOk(
    first.logs.some((l) => l.event === 'mqtt_disconnected'),
    'the running server kept its broker connection',
  );
  const v = await connectVehicle(first.port, await pki.vehicle(VIN), pki.ca.certPem);
  v.send(vFrame('after-1', VIN, [{ key: 'VehicleSpeed', value: { float_value: 1 } }]));
  t.equal((await v.response('after-1', 5000)).kind, 'ack', 'and keeps acking');
  await v.close();
});

t.test('busy status and monitoring ports are named by their keys; nothing stays bound', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const tls = { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile };
  const holder = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => holder.once('listening', r));
  t.teardown(() => holder.close());
  const busy = (holder.address() as { port: number }).port;
  const port = await freePort();

  const status = await run(dir, { port, status_port: busy, records: { V: ['logger'] }, tls });
  t.equal(status.code, 2);
  t.match(status.stderr, /\(status_port\) is already in use/);
  const monitoring = await run(dir, { port, records: { V: ['logger'] }, tls, monitoring: { prometheus_metrics_port: busy } });
  t.equal(monitoring.code, 2);
  t.match(monitoring.stderr, /\(monitoring\.prometheus_metrics_port\) is already in use/);
  // The vehicle port was bound by neither failed start, or was released: it is free now.
  const probe = createServer().listen(port, '127.0.0.1');
  await new Promise((resolve, reject) => probe.once('listening', resolve).once('error', reject));
  probe.close();
  t.pass('the vehicle port is free again');
});

t.test('a config that routes nothing to mqtt starts no embedded broker', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const server = await startServer(dir, { records: { V: ['logger'] }, tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile } });
  t.teardown(() => server.stop());
  await sleep(200);
  t.notOk(
    server.logs.some((l) => l.event === 'embedded_broker_listening'),
    'no embedded broker',
  );
  t.notOk(
    server.logs.some((l) => String(l.event).startsWith('mqtt_')),
    'no MQTT connection',
  );
});

t.test('with text logs a start failure is said once, on stderr; with JSON logs also as a start_failed line', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const holder = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => holder.once('listening', r));
  t.teardown(() => holder.close());
  const busy = (holder.address() as { port: number }).port;
  const config = { port: busy, records: { V: ['logger'] }, tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile } };
  const text = await run(dir, { ...config, json_log_enable: false });
  t.equal(text.code, 2);
  t.equal(text.stderr.match(/cannot start/g)?.length, 1, 'stderr says it once');
  t.match(text.stderr, /^fleet-telemetry: cannot start: 127\.0\.0\.1:\d+ \(port\) is already in use/m);
  t.notMatch(text.stdout, /ERROR|event=start_failed/, 'no log line repeats it');
  const json = await run(dir, config);
  t.equal(json.code, 2);
  t.match(json.stdout, /"event":"start_failed"/, 'JSON logs carry the event for machines');
  t.equal(json.stderr.match(/cannot start/g)?.length, 1);
});

t.test('the embedded broker on a busy port: the key and the remedy', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const holder = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => holder.once('listening', r));
  t.teardown(() => holder.close());
  const busy = (holder.address() as { port: number }).port;
  const r = await run(dir, {
    port: 0,
    records: { V: ['mqtt'] },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
    mqtt: { broker: 'embedded', embedded_port: busy },
  });
  t.equal(r.code, 2);
  t.match(r.stderr, /mqtt\.embedded_port/);
  t.match(r.stderr, new RegExp(`"broker": "127\\.0\\.0\\.1:${busy}"`), 'says how to use the broker already there');
});
