import t, { type Test } from 'tap';
import { startMosquitto } from './helpers/mosquitto.js';
import { makePki } from './helpers/pki.js';
import { sleep, waitUntil } from './helpers/ports.js';
import { startServer } from './helpers/server.js';
import { subscribe } from './helpers/subscriber.js';
import { connectVehicle, vFrame } from './helpers/vehicle.js';

// A resend of a frame whose publishes are still in flight joins them: answered when they settle,
// nothing published twice. Otherwise a slow broker turns timeouts into resends into more load.

const VIN = '5YJ3E1EA7KF000051';
const fields = (v: number) => [
  { key: 'VehicleSpeed', value: { float_value: v } },
  { key: 'Odometer', value: { double_value: v * 10 } },
];

/** mosquitto, a subscriber on `base/#`, the server with `mqtt` settings, one connected vehicle. */
async function setUp(t: Test, base: string, mqtt: Record<string, unknown>) {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const mosq = await startMosquitto(dir);
  t.teardown(() => mosq.stop());
  const sub = await subscribe(mosq.url, `${base}/#`);
  t.teardown(() => sub.close());
  const server = await startServer(dir, {
    records: { V: ['mqtt'] },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
    mqtt: { broker: mosq.url, topic_base: base, qos: 1, ...mqtt },
    monitoring: { prometheus_metrics_port: 0 },
  });
  t.teardown(() => server.stop());
  await server.waitForLog((l) => l.event === 'mqtt_connected');
  const monitorPort = (await server.waitForLog((l) => l.event === 'monitoring_listening')).port as number;
  const v = await connectVehicle(server.port, await pki.vehicle(VIN), pki.ca.certPem);
  t.teardown(() => v.close());
  await sub.waitFor((m) => m.some((x) => x.topic === `${base}/${VIN}/connectivity`));
  return { mosq, sub, v, monitorPort };
}

t.test('resends while the broker is slow: one publish per field, every copy acked', async (t) => {
  const { mosq, sub, v, monitorPort } = await setUp(t, 'rs', { publish_timeout_ms: 5000 });

  mosq.pause();
  const frame = vFrame('slow-1', VIN, fields(7));
  v.send(frame);
  await sleep(150);
  v.send(frame); // the vehicle's resend, same txid and bytes
  await sleep(150);
  v.send(frame);
  // Same txid, other content: a different frame, published on its own.
  v.send(vFrame('slow-1', VIN, fields(8)));
  await sleep(300);
  t.equal(v.responses.length, 0, 'nothing answered while the broker is stopped');
  mosq.resume();

  await waitUntil(() => v.responses.filter((r) => r.txid === 'slow-1').length === 4, 10_000, 'four answers for slow-1');
  t.same(
    v.responses.map((r) => r.kind),
    ['ack', 'ack', 'ack', 'ack'],
    'every copy acked, by txid',
  );
  await sub.waitFor((m) => m.filter((x) => x.topic === `rs/${VIN}/v/Odometer`).length >= 2, 5000);
  await sleep(300);
  const speeds = sub.messages.filter((x) => x.topic === `rs/${VIN}/v/VehicleSpeed`).map((x) => JSON.parse(x.payload).value);
  t.same(speeds.sort(), [7, 8], 'the three copies published once; the other content once');
  const metrics = await (await fetch(`http://127.0.0.1:${monitorPort}/metrics`)).text();
  t.match(metrics, /fleet_telemetry_resends_joined_total 2\b/, 'two resends joined');
  t.match(metrics, /fleet_telemetry_fields_published_total\{record_type="V"\} 4\b/, 'fields counted once per publish');
});

t.test('resends after the deadline: the publishes still in flight answer them, a late PUBACK completes them', async (t) => {
  // A fixed 400 ms deadline, so the pause below outlasts it several times over.
  const { mosq, sub, v, monitorPort } = await setUp(t, 'od', { publish_timeout_ms: 400, publish_timeout_max_ms: 400, keep_alive_seconds: 60 });

  mosq.pause();
  const frame = vFrame('late-1', VIN, fields(9));
  v.send(frame);
  // The vehicle resends after its own timeout, each time past the server's deadline.
  for (let i = 0; i < 3; i++) {
    await sleep(600);
    v.send(frame);
  }
  await sleep(200);
  t.equal(v.responses.length, 0, 'no answer while the broker is stopped');
  mosq.resume();
  // As a car does: resend until answered (a resend waiting when the PUBACKs come is acked with
  // them; one that came after is acked from memory).
  for (let i = 0; i < 20 && !v.responses.some((r) => r.txid === 'late-1'); i++) {
    await sleep(300);
    if (!v.responses.length) v.send(frame);
  }
  t.ok(v.responses.length > 0 && v.responses.every((r) => r.txid === 'late-1' && r.kind === 'ack'), 'acked once the broker took the publishes');
  await sub.waitFor((m) => m.filter((x) => x.topic === `od/${VIN}/v/Odometer`).length >= 1, 5000);
  // Once the original publishes completed, another resend is acked with nothing published.
  const answers = v.responses.length;
  v.send(frame);
  await waitUntil(() => v.responses.length > answers, 5000, 'an answer for the resend after completion');
  t.equal(v.responses.at(-1)!.kind, 'ack', 'a resend after completion: acked');
  await sleep(300);
  const speeds = sub.messages.filter((x) => x.topic === `od/${VIN}/v/VehicleSpeed`).map((x) => JSON.parse(x.payload).value);
  t.same(speeds, [9], 'five copies of the frame, each field published once');
  const metrics = await (await fetch(`http://127.0.0.1:${monitorPort}/metrics`)).text();
  t.match(metrics, /fleet_telemetry_broker_records_overdue_total\{producer="mqtt"\} [1-9]/, 'counted as overdue');
  t.match(metrics, /fleet_telemetry_frames_received_total\{record_type="V",outcome="acked_resend"\} [1-9]/, 'the last resend acked from memory');
});
