import t from 'tap';
import { startMosquitto } from './helpers/mosquitto.js';
import { makePki } from './helpers/pki.js';
import { sleep, waitUntil } from './helpers/ports.js';
import { startServer } from './helpers/server.js';
import { subscribe } from './helpers/subscriber.js';
import { connectVehicle, vFrame } from './helpers/vehicle.js';

// A resend of a frame whose publishes are still in flight joins them: answered when they settle,
// nothing published twice. Otherwise a slow broker turns timeouts into resends into more load.

const VIN = '5YJ3E1EA7KF000051';
const fields = (v: number) => [{ key: 'VehicleSpeed', value: { float_value: v } }, { key: 'Odometer', value: { double_value: v * 10 } }];

t.test('resends while the broker is slow: one publish per field, every copy acked', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const mosq = await startMosquitto(dir);
  t.teardown(() => mosq.stop());
  const sub = await subscribe(mosq.url, 'rs/#');
  t.teardown(() => sub.close());
  const server = await startServer(dir, {
    records: { V: ['mqtt'] },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
    mqtt: { broker: mosq.url, topic_base: 'rs', qos: 1, publish_timeout_ms: 5000 },
    monitoring: { prometheus_metrics_port: 0 },
  });
  t.teardown(() => server.stop());
  await server.waitForLog((l) => l.event === 'mqtt_connected');
  const monitorPort = (await server.waitForLog((l) => l.event === 'monitoring_listening')).port as number;
  const v = await connectVehicle(server.port, await pki.vehicle(VIN), pki.ca.certPem);
  t.teardown(() => v.close());
  await sub.waitFor((m) => m.some((x) => x.topic === `rs/${VIN}/connectivity`));

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
  t.same(v.responses.map((r) => r.kind), ['ack', 'ack', 'ack', 'ack'], 'every copy acked, by txid');
  await sub.waitFor((m) => m.filter((x) => x.topic === `rs/${VIN}/v/Odometer`).length >= 2, 5000);
  await sleep(300);
  const speeds = sub.messages.filter((x) => x.topic === `rs/${VIN}/v/VehicleSpeed`).map((x) => JSON.parse(x.payload).value);
  t.same(speeds.sort(), [7, 8], 'the three copies published once; the other content once');
  const metrics = await (await fetch(`http://127.0.0.1:${monitorPort}/metrics`)).text();
  t.match(metrics, /fleet_telemetry_resends_joined_total 2\b/, 'two resends joined');
  t.match(metrics, /fleet_telemetry_fields_published_total\{record_type="V"\} 4\b/, 'fields counted once per publish');
});
