import t, { type Test } from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { startEmbeddedBroker } from '../src/broker/embedded.js';
import { parseConfig } from '../src/config/load.js';
import { derivedPublisher } from '../src/producers/derived.js';
import { builtinProducers, createProducers } from '../src/producers/registry.js';
import { loadPluginFactory } from '../src/producers/plugin.js';
import type { VehicleRecord } from '../src/record/types.js';
import { CONTRACT_VIN, runProducerContract } from '../src/testing/index.js';
import { contractV } from '../src/testing/records.js';
import { fixturesDir } from './helpers/fixtures.js';
import { subscribe } from './helpers/subscriber.js';
import { freePort, waitUntil } from './helpers/ports.js';
import { startRedis, subscribeRedis } from './helpers/redis.js';
import { plainMessage } from './helpers/dispatch-expect.js';
import { startKafkaMock } from './helpers/kafka-mock.js';
import { kcatRead } from './helpers/kcat.js';
import { KINESALITE_ENV, startKinesalite } from './helpers/kinesalite.js';
import type { ProducerFactory } from '../src/producers/types.js';

// One contract, every producer: the kit a plugin author runs (fleet-telemetry/testing) runs here
// on the built-in producers and on plugins, each seen through its real sink.
const VIN = CONTRACT_VIN;

function config(extra: Record<string, unknown> = {}) {
  return parseConfig(
    JSON.stringify({ records: { V: ['mqtt'] }, tls: { server_cert: 's.pem', server_key: 's.key' }, ...extra }),
    join(fixturesDir(), 'config.json'),
    {},
  );
}

/** The VehicleSpeed a contract V record carries. */
function speedOf(r: VehicleRecord): number | undefined {
  if (r.type !== 'V') return undefined;
  const d = r.data.find((x) => x.name === 'VehicleSpeed');
  return d ? (JSON.parse(d.json) as number) : undefined;
}

/** Rows of a JSON-lines file a plugin writes; none while it does not exist yet. */
function rows(file: string): Record<string, unknown>[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

t.test('producer contract: mqtt (embedded broker)', async (t) => {
  const broker = await startEmbeddedBroker('127.0.0.1', 0);
  t.teardown(() => broker.close());
  const sub = await subscribe(`mqtt://127.0.0.1:${broker.port}`, 'pc/#');
  t.teardown(() => sub.close());
  const report = await runProducerContract(builtinProducers.mqtt, {
    name: 'mqtt',
    config: config({ mqtt: { broker: `127.0.0.1:${broker.port}`, qos: 1, topic_base: 'pc' } }),
    seen: (r) => sub.messages.some((m) => m.topic === `pc/${VIN}/v/VehicleSpeed` && JSON.parse(m.payload).value === speedOf(r)),
    onCheck: (name) => t.pass(name),
  });
  t.ok(report.passed.includes('close() resolves'), 'every check ran');
  t.ok(
    sub.messages.some((m) => m.topic.startsWith(`pc/${VIN}/alerts/`)),
    'the alerts record was published',
  );
});

t.test('producer contract: logger', async (t) => {
  const lines: Record<string, unknown>[] = [];
  const out = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  await runProducerContract(builtinProducers.logger, {
    name: 'logger',
    logger: pino({ level: 'info' }, out),
    seen: (r) =>
      lines.some(
        (l) =>
          l.txid === r.txid && l.event === 'record' && (l.fields as Record<string, string>)[`telemetry/${VIN}/v/VehicleSpeed`] === `{"value":${speedOf(r)}}`,
      ),
    onCheck: (name) => t.pass(name),
  });
});

t.test('producer contract: plugin module (the README example)', async (t) => {
  const dir = t.testdir();
  await runProducerContract(await loadPluginFactory('./plugins/archive-producer.js', fixturesDir()), {
    name: 'archive',
    options: { dir },
    seen: (r) => rows(join(dir, `${VIN}.jsonl`)).some((row) => row.txid === r.txid && row.type === 'V'),
    onCheck: (name) => t.pass(name),
  });
});

for (const [what, module, file] of [
  ['a class instance (prototype methods, a getter, private fields)', './plugins/class-producer.js', 'class.jsonl'],
  ['a frozen object with no name and no close()', './plugins/frozen-producer.js', 'frozen.jsonl'],
] as const) {
  t.test(`producer contract: plugin module returning ${what}`, async (t) => {
    const dir = t.testdir();
    const factory = await loadPluginFactory(module, fixturesDir());
    await runProducerContract(factory, {
      options: { dir },
      seen: (r) => rows(join(dir, file)).some((row) => row.txid === r.txid && row.type === 'V'),
      onCheck: (name) => t.pass(name),
    });
    const producer = await factory({ name: 'plugin', config: config(), logger: pino({ level: 'silent' }), options: { dir } });
    t.equal(producer.name, 'plugin', 'named by the config');
    if (module.includes('class')) {
      t.equal(producer.selfTimed, true, "the class's getter is read");
      t.equal(producer.ready?.(), true, 'a prototype method that reads a private field works');
    }
    await producer.close();
  });
}

t.test('producer contract: driver-score plugin (loaded by name; seen through its derived/trip_live)', async (t) => {
  const broker = await startEmbeddedBroker('127.0.0.1', 0);
  t.teardown(() => broker.close());
  const sub = await subscribe(`mqtt://127.0.0.1:${broker.port}`, 'ds/#');
  t.teardown(() => sub.close());
  const cfg = config({ mqtt: { broker: `127.0.0.1:${broker.port}`, qos: 1, topic_base: 'ds' } });
  const logger = pino({ level: 'silent' });
  const producers = await createProducers(cfg, logger);
  const mqtt = producers.get('mqtt')!;
  t.teardown(() => mqtt.close());
  mqtt.start?.();
  await waitUntil(() => mqtt.ready?.(), 5000, 'mqtt producer connected');
  await runProducerContract(await loadPluginFactory('fleet-telemetry/plugins/driver-score', fixturesDir()), {
    name: 'driver_score',
    config: cfg,
    logger,
    options: { live_interval_s: 0 },
    derived: derivedPublisher(producers, logger),
    // With no gear, a speed above 5 mph starts a trip; every V record then updates its maximum.
    seen: (r) => sub.messages.some((m) => m.topic === `ds/${VIN}/derived/trip_live` && JSON.parse(m.payload).max_speed_mph === speedOf(r)),
    onCheck: (name) => t.pass(name),
  });
});

/** The VehicleSpeed of a V record as a Tesla-compatible producer sent it (protobuf, vin set). */
function sentSpeed(value: Uint8Array): number | undefined {
  const m = plainMessage('V', value) as { data?: { key: string; value?: { float_value?: number } }[] };
  return m.data?.find((d) => d.key === 'VehicleSpeed')?.value?.float_value;
}

/** Whether a sent V value carries this record's speed (sent as a float32). */
const sameSpeed = (value: Uint8Array, r: VehicleRecord) => {
  const got = sentSpeed(value);
  return got !== undefined && Math.abs(got - speedOf(r)!) < 1e-3;
};

/** A temporary folder for a server a test starts, removed after the server has stopped. */
function serverDir(t: Test, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('producer contract: redis (a real redis-server)', async (t) => {
  const redis = await startRedis(serverDir(t, 'ft-contract-redis-'));
  t.teardown(() => redis.stop());
  const sub = await subscribeRedis(redis.port);
  t.teardown(() => sub.close());
  await runProducerContract(builtinProducers.redis, {
    name: 'redis',
    config: config({ records: { V: ['redis'] }, namespace: 'pc', redis: { addrs: [`127.0.0.1:${redis.port}`], publish_vin_topics: true } }),
    seen: (r) => sub.messages.some((m) => m.channel === `pc_V_{${VIN}}` && sameSpeed(m.value, r)),
    onCheck: (name) => t.pass(name),
  });
});

t.test('producer contract: zmq (a SUB socket of the zeromq package)', async (t) => {
  const { Subscriber } = await import('zeromq');
  const port = await freePort();
  const sub = new Subscriber({ linger: 0 });
  t.teardown(() => sub.close());
  sub.connect(`tcp://127.0.0.1:${port}`);
  sub.subscribe('pc_');
  const got: { topic: string; value: Buffer }[] = [];
  void (async () => {
    try {
      for await (const [topic, value] of sub) got.push({ topic: topic.toString(), value });
    } catch {
      // closed
    }
  })();
  // PUB/SUB drops what is sent before the subscription reaches the publisher: the factory the kit
  // calls waits for it with probes, so the contract's records all have a subscriber.
  const factory: ProducerFactory = async (ctx) => {
    const producer = await builtinProducers.zmq(ctx);
    const probe = contractV('probe', -1);
    await waitUntil(
      async () => {
        await producer.produce(probe);
        await new Promise((r) => setTimeout(r, 50));
        return got.some((g) => sameSpeed(g.value, probe));
      },
      10_000,
      'the SUB socket subscribed',
    );
    return producer;
  };
  await runProducerContract(factory, {
    name: 'zmq',
    config: config({ records: { V: ['zmq'] }, namespace: 'pc', zmq: { addr: `tcp://127.0.0.1:${port}` } }),
    seen: (r) => got.some((g) => g.topic === 'pc_V' && sameSpeed(g.value, r)),
    onCheck: (name) => t.pass(name),
  });
});

t.test('producer contract: kafka (librdkafka mock cluster, 3 brokers)', async (t) => {
  const kafka = await startKafkaMock(3);
  t.teardown(() => kafka.stop());
  await runProducerContract(builtinProducers.kafka, {
    name: 'kafka',
    config: config({ namespace: 'pc', records: { V: ['kafka'] }, kafka: { 'bootstrap.servers': kafka.bootstrap } }),
    seen: async (r) => (await kcatRead(kafka.bootstrap, 'pc_V')).some((m) => m.headers.txid === r.txid && m.key.toString() === VIN && sameSpeed(m.value, r)),
    timeoutMs: 20_000,
    onCheck: (name) => t.pass(name),
  });
});

t.test('producer contract: kinesis (kinesalite)', async (t) => {
  const kinesis = await startKinesalite(serverDir(t, 'ft-contract-kinesis-'));
  t.teardown(() => kinesis.stop());
  for (const type of ['V', 'alerts', 'errors', 'connectivity']) await kinesis.createStream(`pc_${type}`, 1);
  // The AWS client finds credentials and region where AWS tools look: the environment here.
  Object.assign(process.env, KINESALITE_ENV);
  await runProducerContract(builtinProducers.kinesis, {
    name: 'kinesis',
    config: config({ namespace: 'pc', records: { V: ['kinesis'] }, kinesis: { override_host: kinesis.endpoint } }),
    // A Kinesis record has no headers: the V record is known by its speed.
    seen: async (r) => (await kinesis.read('pc_V')).some((x) => x.partitionKey === VIN && sameSpeed(x.data, r)),
    timeoutMs: 20_000,
    onCheck: (name) => t.pass(name),
  });
});

t.test('the kit fails a producer that breaks the contract, naming the check', async (t) => {
  const closed: string[] = [];
  const refusing = () => ({
    name: 'refusing',
    produce: async (r: VehicleRecord) => {
      if (r.type === 'errors') throw new Error('errors records refused');
    },
    close: async () => void closed.push('refusing'),
  });
  await t.rejects(runProducerContract(refusing), { code: 'producer_contract_failed', check: 'the errors record is taken', message: /errors records refused/ });
  t.same(closed, ['refusing'], 'the producer is closed after the failure');
  await t.resolves(runProducerContract(refusing, { recordTypes: ['V', 'alerts', 'connectivity'] }), 'and passes when it is routed only what it takes');

  const throwing = () => ({
    name: 't',
    produce: (() => {
      throw new Error('sync');
    }) as () => Promise<void>,
    close: async () => {},
  });
  await t.rejects(runProducerContract(throwing), { check: 'a V record is taken', message: /threw instead of returning a promise/ });
  const unseen = () => ({ name: 'u', produce: async () => {}, close: async () => {} });
  await t.rejects(runProducerContract(unseen, { seen: () => false, timeoutMs: 200 }), { check: 'and seen in the sink', message: /still false after 200 ms/ });
  const hanging = () => ({ name: 'h', produce: () => new Promise<void>(() => {}), close: async () => {} });
  await t.rejects(runProducerContract(hanging, { timeoutMs: 200 }), { message: /did not settle within 200 ms/ });
});

t.test('mqtt producer: refuses at once while the broker is away, and never throws', async (t) => {
  const cfg = config({ mqtt: { broker: '127.0.0.1:9', qos: 1, publish_timeout_ms: 300, connect_retry_interval_ms: 5000 } });
  const producer = await builtinProducers.mqtt({ name: 'mqtt', config: cfg, logger: pino({ level: 'silent' }), options: {} });
  producer.start?.();
  let p: Promise<void> | undefined;
  t.doesNotThrow(() => (p = producer.produce(contractV('x', 1))));
  await t.rejects(p!, /not connected/);
  t.notOk(producer.ready?.(), 'not ready');
  await producer.close();
});

t.test('plugin loading errors are clear', async (t) => {
  await t.rejects(loadPluginFactory('./plugins/nope.js', fixturesDir()), /cannot load producer module \.\/plugins\/nope\.js/);
  await t.rejects(loadPluginFactory('node:path', fixturesDir()), /exports no factory/);
  const flaky = await loadPluginFactory('./plugins/flaky-producer.js', fixturesDir());
  const p = await flaky({ name: 'flaky', config: config(), logger: pino({ level: 'silent' }), options: {} });
  await t.resolves(p.produce(contractV('ok-1', 1)));
  await t.rejects(p.produce(contractV('fail-1', 1)), /refused/);
  await t.resolves(p.close(), 'close() is filled in when the plugin has none');
});
