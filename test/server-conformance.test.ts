import t from 'tap';
import type { Test } from 'tap';
import { canonicalJson, loadConformance } from './helpers/fixtures.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { makePki } from './helpers/pki.js';
import { startServer } from './helpers/server.js';
import { subscribe, type Received } from './helpers/subscriber.js';
import { connectVehicle } from './helpers/vehicle.js';
import { sleep } from './helpers/ports.js';

// Every public golden frame end to end: the real CLI, real mTLS, a real broker, a subscriber.
const conformance = loadConformance();

async function runVectors(t: Test, brokerKind: 'embedded' | 'mosquitto') {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const mosq = brokerKind === 'mosquitto' ? await startMosquitto(dir) : undefined;
  const server = await startServer(dir, {
    records: { V: ['mqtt'], alerts: ['mqtt'], errors: ['mqtt'] },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
    mqtt: { broker: mosq ? `127.0.0.1:${mosq.port}` : 'embedded', embedded_port: 0, topic_base: conformance.topic_base, qos: 1 },
  });
  const brokerUrl = mosq ? mosq.url : `mqtt://127.0.0.1:${server.brokerPort}`;
  await server.waitForLog((l) => l.event === 'mqtt_connected');
  const sub = await subscribe(brokerUrl, `${conformance.topic_base}/#`);
  const vehicle = await connectVehicle(server.port, await pki.vehicle(conformance.vin), pki.ca.certPem);
  await sub.waitFor((m) => m.some((x) => x.topic.endsWith('/connectivity')), 5000, 'CONNECTED record');
  const connected = JSON.parse(sub.messages.find((x) => x.topic.endsWith('/connectivity'))!.payload);
  t.equal(connected.Status, 'CONNECTED', 'connectivity published on connect');
  t.match(connected.ConnectionId, /^[0-9a-f-]{36}$/);

  const fieldPublishes = (from: number): Received[] => sub.messages.slice(from).filter((m) => !m.topic.endsWith('/connectivity'));

  for (const c of conformance.cases) {
    await t.test(c.name, async (t) => {
      const before = sub.messages.length;
      vehicle.send(Buffer.from(c.frame_b64, 'base64'));
      const r = await vehicle.response(c.expect.txid);
      t.equal(r.kind, c.expect.response, 'response kind');
      if (c.expect.topic !== undefined && r.kind === 'ack') t.equal(r.topic, c.expect.topic, 'ack topic');
      if (c.expect.publishes.length) {
        await sub.waitFor(() => fieldPublishes(before).length >= c.expect.publishes.length, 5000, `${c.expect.publishes.length} publishes`);
      } else {
        await sleep(300);
      }
      const got = fieldPublishes(before);
      t.same(
        got.map((m) => m.topic),
        c.expect.publishes.map((p) => p.topic),
        'topics',
      );
      for (let i = 0; i < Math.min(got.length, c.expect.publishes.length); i++) {
        t.equal(canonicalJson(got[i].payload), canonicalJson(c.expect.publishes[i].payload), `payload of ${got[i].topic}`);
      }
    });
  }

  await vehicle.close();
  await sub.waitFor((m) => m.some((x) => x.topic.endsWith('/connectivity') && x.payload.includes('DISCONNECTED')), 5000, 'DISCONNECTED record');
  t.equal(await server.stop(), 0, 'server exits 0 on SIGTERM');
  await sub.close();
  await mosq?.stop();
}

t.test('public vectors end to end, embedded broker', (t) => runVectors(t, 'embedded'));
t.test('public vectors end to end, mosquitto', (t) => runVectors(t, 'mosquitto'));
