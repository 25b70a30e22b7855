import t from 'tap';
import { join } from 'node:path';
import { pino } from 'pino';
import { parseConfig } from '../src/config/load.js';
import { derivedPublisher } from '../src/producers/derived.js';
import { createProducers } from '../src/producers/registry.js';
import { decodeRecord } from '../src/record/decode.js';
import { MAX_LEVEL_BYTES, sanitizeLevel, TopicNames } from '../src/publish/topics.js';
import { fixturesDir } from './helpers/fixtures.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { makePki } from './helpers/pki.js';
import { waitUntil } from './helpers/ports.js';
import { startServer, type LogLine } from './helpers/server.js';
import { subscribe } from './helpers/subscriber.js';
import { connectVehicle, vFrame, vPayload } from './helpers/vehicle.js';
import { testdir } from './helpers/cli.js';

// A plugin publishes what it derives only under its vehicle's own subtree: whatever name it
// picks, the topic is <base>/<VIN>/derived/<one safe level>, or the publish is refused.
const VIN = '5YJ3E1EA7KF000025';
const HOSTILE = ['trip', 'a/b', '+', '#', '../../../other', '..', 'x\u0000y\u001f', 'sp ace.dot', 'c1\u0085', 'é'.repeat(128), '/', 'a/../../b', '$SYS'];
const REFUSED = ['', 'x'.repeat(MAX_LEVEL_BYTES + 1), 'é'.repeat(129), 'not-json'];

t.test('TopicNames.derived: one safe level under the VIN, types checked', async (t) => {
  const n = new TopicNames('tb');
  t.equal(n.derived(VIN, 'trip'), `tb/${VIN}/derived/trip`);
  t.equal(n.derived('a/+#', '../x'), 'tb/a___/derived/___x', 'the VIN level is made safe too');
  for (const [vin, name] of [
    ['', 'trip'],
    [VIN, ''],
    [VIN, 42],
    [undefined, 'trip'],
    [VIN, 'x'.repeat(MAX_LEVEL_BYTES + 1)],
  ]) {
    t.throws(
      () => n.derived(vin as string, name as string),
      { name: 'TopicLevelError', code: 'record_invalid', permanent: true },
      `${JSON.stringify([vin, name]).slice(0, 40)} refused`,
    );
  }
});

t.test('hostile derived names stay under <base>/<VIN>/derived/ or are refused (real server, mosquitto)', async (t) => {
  const dir = testdir(t);
  const pki = await makePki(dir);
  const mosq = await startMosquitto(dir);
  t.teardown(() => mosq.stop());
  const sub = await subscribe(mosq.url, '#');
  t.teardown(() => sub.close());
  const server = await startServer(dir, {
    records: { V: ['mqtt', 'hostile'] },
    producers: {
      hostile: { module: join(fixturesDir(), 'plugins', 'derived-hostile.js'), options: { names: [...HOSTILE, ...REFUSED], not_json: 'not-json' } },
    },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
    mqtt: { broker: `127.0.0.1:${mosq.port}`, topic_base: 'tb', qos: 1 },
  });
  t.teardown(() => server.stop());
  await server.waitForLog((l) => l.event === 'mqtt_connected');
  const v = await connectVehicle(server.port, await pki.vehicle(VIN), pki.ca.certPem);
  t.teardown(() => v.close());
  v.send(vFrame('h-1', VIN, [{ key: 'VehicleSpeed', value: { float_value: 1 } }]));
  t.equal((await v.response('h-1')).kind, 'ack', 'the record is acked');

  const results = () => server.logs.filter((l: LogLine) => l.event === 'derived_result');
  await waitUntil(() => results().length === HOSTILE.length + REFUSED.length, 15_000, 'a result per name');
  const derived = () => sub.messages.filter((m) => m.topic.includes('derived'));
  await sub.waitFor(() => derived().length >= HOSTILE.length, 10_000, 'every accepted derived publish');

  for (const m of derived()) {
    const levels = m.topic.split('/');
    t.same(levels.slice(0, 3), ['tb', VIN, 'derived'], `${JSON.stringify(m.topic)} is under tb/${VIN}/derived/`);
    t.equal(levels.length, 4, 'one level below derived/');
    t.notMatch(levels[3], /[+#\u0000-\u001f\u007f-\u009f. ]/, 'no wildcard, control character, dot or space');
  }
  const byName = new Map(derived().map((m) => [JSON.parse(m.payload).name as string, m.topic]));
  for (const n of HOSTILE) t.equal(byName.get(n), `tb/${VIN}/derived/${sanitizeLevel(n)}`, `${JSON.stringify(n.slice(0, 20))}: sanitised like every level`);
  t.equal(byName.get('..'), `tb/${VIN}/derived/__`, '".." is no way up');
  t.equal(byName.get('a/b'), `tb/${VIN}/derived/a_b`, '"/" adds no level');
  for (const n of REFUSED) {
    const r = results().find((l) => l.derived === n);
    t.match(r, { ok: false, code: 'record_invalid', permanent: true }, `${JSON.stringify(n.slice(0, 20))} refused with the permanent error`);
    t.notOk(byName.has(n), 'and not published');
  }
  t.equal(sub.messages.filter((m) => !m.topic.startsWith(`tb/${VIN}/`) && !m.topic.startsWith('fleet-telemetry/')).length, 0, 'nothing anywhere else');
  t.same(
    derived().map((m) => m.qos),
    derived().map(() => 1),
    'published at the QoS of field values',
  );
});

t.test('no mqtt producer: a derived publish is refused with derived_unavailable', async (t) => {
  const dir = testdir(t);
  const pki = await makePki(dir);
  const server = await startServer(dir, {
    records: { V: ['hostile'] },
    producers: { hostile: { module: join(fixturesDir(), 'plugins', 'derived-hostile.js'), options: { names: ['trip'] } } },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
  });
  t.teardown(() => server.stop());
  const v = await connectVehicle(server.port, await pki.vehicle(VIN), pki.ca.certPem);
  t.teardown(() => v.close());
  v.send(vFrame('n-1', VIN, [{ key: 'VehicleSpeed', value: { float_value: 1 } }]));
  t.equal((await v.response('n-1')).kind, 'ack');
  const r = await server.waitForLog((l) => l.event === 'derived_result');
  t.match(r, { ok: false, code: 'derived_unavailable', err: /no mqtt producer/ });
});

t.test('createProducers: onDerived hears every derived publish that succeeded, and only those', async (t) => {
  const dir = testdir(t);
  const mosq = await startMosquitto(dir);
  t.teardown(() => mosq.stop());
  const cfg = parseConfig(
    JSON.stringify({
      records: { V: ['mqtt', 'hostile'] },
      producers: { hostile: { module: './plugins/derived-hostile.js', options: { names: ['trip', 'a/b', ''] } } },
      tls: { server_cert: 's.pem', server_key: 's.key' },
      mqtt: { broker: `127.0.0.1:${mosq.port}`, topic_base: 'od', qos: 1 },
    }),
    join(fixturesDir(), 'config.json'),
    {},
  );
  const heard: [string, string, unknown][] = [];
  const producers = await createProducers(cfg, pino({ level: 'silent' }), { onDerived: (vin, name, value) => heard.push([vin, name, value]) });
  const mqtt = producers.get('mqtt')!;
  t.teardown(() => mqtt.close());
  mqtt.start?.();
  await waitUntil(() => mqtt.ready?.(), 5000, 'mqtt connected');
  await producers.get('hostile')!.produce(decodeRecord('V', vPayload([{ key: 'VehicleSpeed', value: { float_value: 2 } }]), VIN, 'l-1'));
  await waitUntil(() => heard.length >= 2, 5000, 'two derived publishes');
  await new Promise((r) => setTimeout(r, 200));
  t.same(
    heard.sort((a, b) => a[1].localeCompare(b[1])),
    [
      [VIN, 'a/b', { name: 'a/b', txid: 'l-1' }],
      [VIN, 'trip', { name: 'trip', txid: 'l-1' }],
    ],
    'the name as the plugin gave it, the value; the refused empty name is not heard',
  );
});

t.test('derived publishes fail as record publishes do: broker away, broker hung (timeout)', async (t) => {
  const dir = testdir(t);
  const mosq = await startMosquitto(dir);
  t.teardown(async () => {
    mosq.resume();
    await mosq.stop();
  });
  const cfg = parseConfig(
    JSON.stringify({
      records: { V: ['mqtt'] },
      tls: { server_cert: 's.pem', server_key: 's.key' },
      mqtt: { broker: `127.0.0.1:${mosq.port}`, topic_base: 'ft', qos: 1, publish_timeout_ms: 400, keep_alive_seconds: 60 },
    }),
    join(fixturesDir(), 'config.json'),
    {},
  );
  const producers = await createProducers(cfg, pino({ level: 'silent' }));
  const derived = derivedPublisher(producers, pino({ level: 'silent' }));
  const mqtt = producers.get('mqtt')!;
  t.teardown(() => mqtt.close());
  await t.rejects(derived.publish(VIN, 'trip', {}), { code: 'broker_unavailable' }, 'before the producer connected');
  mqtt.start?.();
  await waitUntil(() => mqtt.ready?.(), 5000, 'mqtt connected');
  await t.resolves(derived.publish(VIN, 'trip', { ok: 1 }), 'connected: taken');
  mosq.pause();
  await t.rejects(derived.publish(VIN, 'trip', { ok: 2 }), { code: 'publish_timeout' }, 'a hung broker: rejected at publish_timeout_ms');
});
