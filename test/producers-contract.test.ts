import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { startEmbeddedBroker } from '../src/broker/embedded.js';
import { parseConfig } from '../src/config/load.js';
import { builtinProducers, createProducers } from '../src/producers/registry.js';
import { loadPluginFactory } from '../src/producers/plugin.js';
import type { Producer } from '../src/producers/types.js';
import { decodeRecord } from '../src/record/decode.js';
import type { VehicleRecord } from '../src/record/types.js';
import { makeConnectivityRecord } from '../src/server/connectivity.js';
import { fixturesDir } from './helpers/fixtures.js';
import { subscribe } from './helpers/subscriber.js';
import { vPayload } from './helpers/vehicle.js';
import { waitUntil } from './helpers/ports.js';
import { tmpdir } from 'node:os';
import { startKafkaMock } from './helpers/kafka-mock.js';
import { kcatRead } from './helpers/kcat.js';
import { KINESALITE_ENV, startKinesalite } from './helpers/kinesalite.js';
import { plain } from './helpers/tesla-expect.js';

// One contract, every producer: produce(record) settles per record, resolves once the record is
// taken (and only then is it observable in the sink), copes with concurrency, and close() ends it.
const VIN = '5YJ3E1EA7KF000005';

function vRecord(txid: string, speed: number): VehicleRecord {
  return decodeRecord('V', vPayload([{ key: 'VehicleSpeed', value: { float_value: speed } }]), VIN, txid);
}

const otherRecords = (): VehicleRecord[] => [
  { type: 'alerts', vin: VIN, txid: 'a1', payload: new Uint8Array(), alerts: [{ name: 'A', audiences: [], startedAt: { seconds: 1700000000n, nanos: 0 } }] },
  { type: 'errors', vin: VIN, txid: 'e1', payload: new Uint8Array(), errors: [{ name: 'E', body: 'b', tags: {} }] },
  makeConnectivityRecord({ vin: VIN, connectionId: '00000000-0000-4000-8000-000000000000', clientVersion: '', networkInterface: 'wifi' }, 'CONNECTED'),
];

interface Harness {
  producer: Producer;
  /** Resolves true once the sink shows the V record with this txid/speed. */
  observed(txid: string, speed: number): Promise<boolean>;
  teardown(): Promise<void>;
}

function config(extra: Record<string, unknown> = {}) {
  return parseConfig(
    JSON.stringify({ records: { V: ['mqtt'] }, tls: { server_cert: 's.pem', server_key: 's.key' }, ...extra }),
    join(fixturesDir(), 'config.json'),
    {},
  );
}

function contract(name: string, make: (t: Test) => Promise<Harness>) {
  t.test(`producer contract: ${name}`, async (t) => {
    const h = await make(t);
    t.teardown(() => h.teardown());

    const first = h.producer.produce(vRecord('c-1', 42.5));
    t.type(first, Promise, 'produce returns a promise');
    await t.resolves(first, 'a V record is taken');
    t.ok(await h.observed('c-1', 42.5), 'and shows in the sink');

    for (const r of otherRecords()) await t.resolves(h.producer.produce(r), `a ${r.type} record is taken`);

    const many = Array.from({ length: 50 }, (_, i) => h.producer.produce(vRecord(`m-${i}`, i)));
    await t.resolves(Promise.all(many), '50 concurrent records all settle as taken');
    t.ok(await h.observed('m-49', 49), 'the last of them shows in the sink');

    const started = Date.now();
    await t.resolves(h.producer.close(), 'close() resolves');
    t.ok(Date.now() - started < 5000, 'close() is bounded');
  });
}

contract('mqtt (embedded broker)', async () => {
  const broker = await startEmbeddedBroker('127.0.0.1', 0);
  const cfg = config({ mqtt: { broker: `127.0.0.1:${broker.port}`, qos: 1, topic_base: 'pc' } });
  const sub = await subscribe(`mqtt://127.0.0.1:${broker.port}`, 'pc/#');
  const producer = await builtinProducers.mqtt({ name: 'mqtt', config: cfg, logger: pino({ level: 'silent' }), options: {} });
  producer.start?.();
  await waitUntil(() => producer.ready?.(), 5000, 'mqtt producer connected');
  return {
    producer,
    observed: async (_txid, speed) => {
      await sub.waitFor((m) => m.some((x) => x.topic === `pc/${VIN}/v/VehicleSpeed` && JSON.parse(x.payload).value === speed));
      return true;
    },
    teardown: async () => {
      await sub.close();
      await broker.close();
    },
  };
});

contract('logger', async () => {
  const lines: Record<string, unknown>[] = [];
  const out = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  const producer = await builtinProducers.logger({ name: 'logger', config: config(), logger: pino({ level: 'info' }, out), options: {} });
  return {
    producer,
    observed: async (txid, speed) => {
      await waitUntil(() => lines.some((l) => l.txid === txid), 2000, 'log line');
      const line = lines.find((l) => l.txid === txid)!;
      return line.event === 'record' && (line.fields as Record<string, string>)[`telemetry/${VIN}/v/VehicleSpeed`] === `{"value":${speed}}`;
    },
    teardown: async () => {},
  };
});

contract('plugin module (the README example)', async (t) => {
  const dir = t.testdir();
  const factory = await loadPluginFactory('./plugins/archive-producer.js', fixturesDir());
  const producer = await factory({ name: 'archive', config: config(), logger: pino({ level: 'silent' }), options: { dir } });
  return {
    producer,
    observed: async (txid) => {
      const rows = readFileSync(join(dir, `${VIN}.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      return rows.some((r) => r.txid === txid && r.type === 'V');
    },
    teardown: async () => {},
  };
});

for (const [what, module, file] of [
  ['a class instance (prototype methods, a getter, private fields)', './plugins/class-producer.js', 'class.jsonl'],
  ['a frozen object with no name and no close()', './plugins/frozen-producer.js', 'frozen.jsonl'],
] as const) {
  contract(`plugin module returning ${what}`, async (t) => {
    const dir = t.testdir();
    const factory = await loadPluginFactory(module, fixturesDir());
    const producer = await factory({ name: 'plugin', config: config(), logger: pino({ level: 'silent' }), options: { dir } });
    t.equal(producer.name, 'plugin', 'named by the config');
    if (module.includes('class')) {
      t.equal(producer.selfTimed, true, "the class's getter is read");
      t.equal(producer.ready?.(), true, "a prototype method that reads a private field works");
    }
    return {
      producer,
      observed: async (txid) => {
        const rows = readFileSync(join(dir, file), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
        return rows.some((r) => r.txid === txid && r.type === 'V');
      },
      teardown: async () => {},
    };
  });
}

contract('driver-score plugin (loaded by name; seen through its derived/trip_live)', async () => {
  const broker = await startEmbeddedBroker('127.0.0.1', 0);
  const cfg = config({
    records: { V: ['mqtt', 'driver_score'] },
    producers: { driver_score: { module: 'fleet-telemetry/plugins/driver-score', options: { live_interval_s: 0 } } },
    mqtt: { broker: `127.0.0.1:${broker.port}`, qos: 1, topic_base: 'ds' },
  });
  const sub = await subscribe(`mqtt://127.0.0.1:${broker.port}`, 'ds/#');
  const producers = await createProducers(cfg, pino({ level: 'silent' }));
  const mqtt = producers.get('mqtt')!;
  mqtt.start?.();
  await waitUntil(() => mqtt.ready?.(), 5000, 'mqtt producer connected');
  return {
    producer: producers.get('driver_score')!,
    // With no gear, a speed above 5 mph starts a trip; every record then updates its maximum.
    observed: async (_txid, speed) => {
      await sub.waitFor((m) => m.some((x) => x.topic === `ds/${VIN}/derived/trip_live` && JSON.parse(x.payload).max_speed_mph === speed));
      return true;
    },
    teardown: async () => {
      await mqtt.close();
      await sub.close();
      await broker.close();
    },
  };
});

/** The speed of a V message as Tesla's dispatchers send it (protobuf, vin set). */
function speedIn(bytes: Uint8Array): number | undefined {
  const m = plain('V', bytes) as { data?: { key: string; value?: { float_value?: number } }[] };
  return m.data?.find((d) => d.key === 'VehicleSpeed')?.value?.float_value;
}

contract('kafka (librdkafka mock cluster, 3 brokers)', async (t) => {
  const kafka = await startKafkaMock(3);
  const cfg = config({ namespace: 'pc', records: { V: ['kafka'] }, kafka: { 'bootstrap.servers': kafka.bootstrap } });
  const producer = await builtinProducers.kafka({ name: 'kafka', config: cfg, logger: pino({ level: 'silent' }), options: {} });
  producer.start?.();
  await waitUntil(() => producer.ready?.(), 20_000, 'kafka producer connected');
  t.equal(producer.selfTimed, true, 'answers every record by its deadline');
  return {
    producer,
    observed: async (txid, speed) => {
      const m = (await kcatRead(kafka.bootstrap, 'pc_V')).find((x) => x.headers.txid === txid);
      return m !== undefined && m.key.toString() === VIN && Math.abs(speedIn(m.value)! - speed) < 1e-3;
    },
    teardown: () => kafka.stop(),
  };
});

contract('kinesis (kinesalite)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ft-contract-kinesis-'));
  const kinesis = await startKinesalite(dir);
  await kinesis.createStream('pc_V', 1);
  for (const type of ['alerts', 'errors', 'connectivity']) await kinesis.createStream(`pc_${type}`, 1);
  // The AWS client finds credentials and region where AWS tools look: the environment here.
  Object.assign(process.env, KINESALITE_ENV);
  const cfg = config({ namespace: 'pc', records: { V: ['kinesis'] }, kinesis: { override_host: kinesis.endpoint } });
  const producer = await builtinProducers.kinesis({ name: 'kinesis', config: cfg, logger: pino({ level: 'silent' }), options: {} });
  producer.start?.();
  await waitUntil(() => producer.ready?.(), 20_000, 'kinesis producer connected');
  t.equal(producer.selfTimed, true, 'answers every record by its deadline');
  return {
    producer,
    // A Kinesis record has no headers: the V record is known by its speed.
    observed: async (_txid, speed) => (await kinesis.read('pc_V')).some((r) => r.partitionKey === VIN && Math.abs(speedIn(r.data)! - speed) < 1e-3),
    teardown: async () => {
      await kinesis.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

t.test('mqtt producer: refuses at once while the broker is away, and never throws', async (t) => {
  const cfg = config({ mqtt: { broker: '127.0.0.1:9', qos: 1, publish_timeout_ms: 300, connect_retry_interval_ms: 5000 } });
  const producer = await builtinProducers.mqtt({ name: 'mqtt', config: cfg, logger: pino({ level: 'silent' }), options: {} });
  producer.start?.();
  let p: Promise<void> | undefined;
  t.doesNotThrow(() => (p = producer.produce(vRecord('x', 1))));
  await t.rejects(p!, /not connected/);
  t.notOk(producer.ready?.(), 'not ready');
  await producer.close();
});

t.test('plugin loading errors are clear', async (t) => {
  await t.rejects(loadPluginFactory('./plugins/nope.js', fixturesDir()), /cannot load producer module \.\/plugins\/nope\.js/);
  await t.rejects(loadPluginFactory('node:path', fixturesDir()), /exports no factory/);
  const flaky = await loadPluginFactory('./plugins/flaky-producer.js', fixturesDir());
  const p = await flaky({ name: 'flaky', config: config(), logger: pino({ level: 'silent' }), options: {} });
  await t.resolves(p.produce(vRecord('ok-1', 1)));
  await t.rejects(p.produce(vRecord('fail-1', 1)), /refused/);
  await t.resolves(p.close(), 'close() is filled in when the plugin has none');
});
