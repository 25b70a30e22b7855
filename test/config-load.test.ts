import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUILTIN_PRODUCERS, configPath, loadConfigFile, parseConfig } from '../src/config/load.js';
import { ConfigError } from '../src/config/errors.js';
import { configSchema, TESLA_UNSUPPORTED_KEYS, UNUSED_KEY_NOTES } from '../src/config/schema.js';
import { planOptionsFrom } from '../src/producers/mqtt/options.js';

/**
 * t.testdir, named per process: another run of the suite in this checkout (engineers test in
 * parallel) uses the same .tap/fixtures names and would delete this run's files.
 */
function testdir(t: Test, content?: Parameters<Test['testdir']>[0]): string {
  if (!t.testdirName.endsWith(`-${process.pid}`)) t.testdirName = `${t.testdirName}-${process.pid}`;
  return t.testdir(content);
}

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const minimal = { tls: { server_cert: 'server.pem', server_key: 'server.key' }, records: { V: ['mqtt'] } };

/** The shape of the example in Tesla's README: its keys, its Tesla-only blocks, records to logger. */
const teslaExample = JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'configs', 'tesla-example.json'), 'utf8')) as Record<string, unknown>;

t.test('defaults fill every key the contract gives one', async (t) => {
  const c = parseConfig(JSON.stringify(minimal), '/etc/ft/config.json', {});
  t.equal(c.host, '0.0.0.0');
  t.equal(c.port, 443);
  t.equal(c.log_level, 'info');
  t.equal(c.json_log_enable, false);
  t.equal(c.use_default_eng_ca, false);
  t.equal(c.tls.trust_tesla_ca, true);
  t.same(c.rate_limit, { enabled: false, message_limit: 1000, message_interval_time: 30 });
  t.equal(c.monitoring.host, '127.0.0.1');
  t.same(c.vins_signal_tracking_enabled, []);
  t.same(c.producers, {});
  t.match(c.mqtt, {
    broker: 'embedded',
    topic_base: 'telemetry',
    qos: 0,
    retained: false,
    payload_format: 'value',
    connect_timeout_ms: 30000,
    publish_timeout_ms: 2500,
    disconnect_timeout_ms: 250,
    connect_retry_interval_ms: 10000,
    keep_alive_seconds: 30,
  });
  t.equal(c.baseDir, '/etc/ft');
  t.equal(configPath(c, 'server.pem'), '/etc/ft/server.pem');
  t.equal(configPath(c, '/abs/x.pem'), '/abs/x.pem');
  t.same(c.ignoredKeys, []);
  t.same(c.warnings, []);
});

t.test("a config in the shape of Tesla's example loads, naming what it does not use", async (t) => {
  const c = parseConfig(JSON.stringify(teslaExample), 'config.json', {});
  t.same(c.records, { alerts: ['logger'], errors: ['logger'], V: ['logger'] });
  t.equal(c.rate_limit.enabled, true);
  t.equal(c.monitoring.prometheus_metrics_port, 9090);
  t.same(c.ignoredKeys.sort(), ['kafka', 'kinesis', 'logger', 'monitoring.profiler_port', 'monitoring.profiling_path', 'monitoring.statsd', 'reliable_ack']);
  t.equal(c.namespace, 'tesla_telemetry', "namespace names the Tesla producers' topics");
  t.match(UNUSED_KEY_NOTES.get('reliable_ack'), /always reliable/);
});

t.test('every Tesla key of the contract §7 is accepted', async (t) => {
  const all = {
    ...teslaExample,
    status_port: 8080,
    use_default_eng_ca: true,
    vins_signal_tracking_enabled: ['5YJ3E1EA7KF000001'],
    reliable_ack_sources: { V: 'kafka' },
    reliable_ack_workers: 4,
    transmit_decoded_records: true,
    disable_tls: false,
    airbrake: { host: 'x', project_id: 1 },
    pubsub: { gcp_project_id: 'p' },
    zmq: { addr: 'tcp://*:5284' },
    redis: { addrs: ['x:6379'] },
    tls: { server_cert: 'a.pem', server_key: 'a.key', ca_file: 'ca.pem' },
    mqtt: {
      broker: 'localhost:1883',
      client_id: 'ft',
      username: 'u',
      password: 'p',
      topic_base: 'tesla',
      qos: 1,
      retained: true,
      connect_timeout_ms: 1000,
      publish_timeout_ms: 500,
      disconnect_timeout_ms: 100,
      connect_retry_interval_ms: 1000,
      keep_alive_seconds: 10,
      payload_format: 'raw',
    },
  };
  const c = parseConfig(JSON.stringify(all), 'config.json', {});
  t.equal(c.mqtt.broker, 'localhost:1883');
  t.equal(c.mqtt.payload_format, 'raw');
  for (const k of ['reliable_ack_sources', 'airbrake', 'pubsub', 'zmq', 'redis', 'disable_tls']) {
    t.ok(c.ignoredKeys.includes(k), `${k} is named as not used`);
  }
  t.notOk(c.ignoredKeys.includes('transmit_decoded_records'), 'transmit_decoded_records is used by the Tesla producers');
  for (const k of TESLA_UNSUPPORTED_KEYS.filter((k) => !k.includes('.'))) {
    t.ok(k in configSchema.properties, `${k} is in the schema`);
  }
});

t.test('broker forms: host:port, bare host, URLs, embedded', async (t) => {
  for (const broker of [
    'embedded',
    'localhost:1883',
    'broker',
    '10.0.0.5:1883',
    '[::1]:1883',
    'mqtt://b:1883',
    'mqtts://b.example.com:8883',
    'tcp://b:1883',
    'ssl://b:8883',
  ]) {
    t.equal(parseConfig(JSON.stringify({ ...minimal, mqtt: { broker } }), 'c', {}).mqtt.broker, broker, broker);
  }
});

t.test('per record type QoS and retain fall back to the global ones', async (t) => {
  const c = parseConfig(
    JSON.stringify({
      ...minimal,
      mqtt: {
        qos: 1,
        retained: false,
        v: { qos: 0 },
        alerts_current: { retained: true },
        alerts_history: { qos: 2 },
        errors: {},
        connectivity: { qos: 2, retained: true },
      },
    }),
    'c',
    {},
  );
  const plan = planOptionsFrom(c);
  t.same(plan.v, { qos: 0, retain: false });
  t.same(plan.alertsCurrent, { qos: 1, retain: true });
  t.same(plan.alertsHistory, { qos: 2, retain: false });
  t.same(plan.errors, { qos: 1, retain: false });
  t.same(plan.connectivity, { qos: 2, retain: true });
});

t.test('secrets from the environment', async (t) => {
  const env = { FLEET_TELEMETRY_MQTT_USERNAME: 'env-user', FLEET_TELEMETRY_MQTT_PASSWORD: 'env-pass', CERTS: '/run/certs', PORT: '8443', RL: 'true' };
  const c = parseConfig(
    JSON.stringify({
      port: '${PORT}',
      rate_limit: { enabled: '${RL}' },
      tls: { server_cert: '${CERTS}/server.pem', server_key: '${CERTS}/server.key' },
      records: { V: ['mqtt'] },
      mqtt: { topic_base: 'cost$$: $${LITERAL}' },
    }),
    'c',
    env,
  );
  t.equal(c.mqtt.username, 'env-user', 'username from FLEET_TELEMETRY_MQTT_USERNAME');
  t.equal(c.mqtt.password, 'env-pass', 'password from FLEET_TELEMETRY_MQTT_PASSWORD');
  t.equal(c.tls.server_cert, '/run/certs/server.pem', '${NAME} inside a string');
  t.equal(c.port, 8443, 'a whole reference takes the key type');
  t.equal(c.rate_limit.enabled, true);
  t.equal(c.mqtt.topic_base, 'cost$$: ${LITERAL}', '$${NAME} stays literal');

  const fromFile = parseConfig(JSON.stringify({ ...minimal, mqtt: { username: 'file-user', password: '${SECRET}' } }), 'c', { ...env, SECRET: 's3' });
  t.equal(fromFile.mqtt.username, 'file-user', 'the file wins when it sets the key');
  t.equal(fromFile.mqtt.password, 's3');

  const none = parseConfig(JSON.stringify(minimal), 'c', {});
  t.equal(none.mqtt.username, undefined);
  t.equal(none.mqtt.password, undefined);
});

t.test('blocks this server does not use are not substituted', async (t) => {
  const c = parseConfig(JSON.stringify({ ...minimal, pubsub: { gcp_project_id: '${GCP_PROJECT}' } }), 'c', {});
  t.same(c.ignoredKeys, ['pubsub']);
});

t.test('several missing variables are each named', async (t) => {
  try {
    parseConfig(JSON.stringify({ ...minimal, mqtt: { username: '${U}', password: '${P}' } }), 'c', {});
    t.fail('should throw');
  } catch (err) {
    t.type(err, ConfigError);
    t.match((err as ConfigError).message, /U is not set/);
    t.match((err as ConfigError).message, /P is not set/);
  }
});

t.test('the logger producer and plugins are valid producer names', async (t) => {
  const c = parseConfig(
    JSON.stringify({
      ...minimal,
      records: { V: ['mqtt', 'logger'], alerts: ['kafka'], connectivity: ['logger'] },
      // A plugin may take a Tesla producer's name.
      producers: { kafka: { module: './kafka-plugin.js', options: { brokers: ['k:9092'] } } },
    }),
    'c',
    {},
  );
  t.same(c.records.alerts, ['kafka']);
  t.same(BUILTIN_PRODUCERS, ['mqtt', 'logger', 'kafka', 'kinesis', 'redis', 'zmq']);
});

t.test('warnings: duplicate keys, unused plugins, nothing routed', async (t) => {
  const text = '{"port": 1, "port": 2, "tls": {"server_cert": "a", "server_key": "b"}, "records": {}, "producers": {"p": {"module": "./p.js"}}}';
  const c = parseConfig(text, 'c', {});
  t.equal(c.port, 2);
  t.match(c.warnings, [/port appears more than once/, /routes no record type/, /producers\.p is declared but no record type uses it/]);
});

t.test('a byte-order mark is ignored', async (t) => {
  t.equal(parseConfig('\uFEFF' + JSON.stringify(minimal), 'c', {}).port, 443);
});

t.test('loadConfigFile names a file it cannot read', async (t) => {
  const dir = testdir(t, { 'config.json': JSON.stringify(minimal) });
  t.equal(loadConfigFile(join(dir, 'config.json'), {}).port, 443);
  t.throws(() => loadConfigFile(join(dir, 'nope.json'), {}), { message: /nope\.json: cannot read the config file: no such file/ });
  t.throws(() => loadConfigFile(dir, {}), { message: /it is a directory/ });
});

t.test('config.example.json is a valid config', async (t) => {
  const file = join(ROOT, 'config.example.json');
  const c = parseConfig(readFileSync(file, 'utf8'), file, {});
  t.ok(c.records.V?.length, 'routes V records');
  t.same(c.ignoredKeys, [], 'uses no key this server ignores');
});

t.test('default client id: stable for one installation, distinct between two, a safe level', async (t) => {
  const { clientIdFrom } = await import('../src/producers/mqtt/options.js');
  const at = (file: string, port: number) => parseConfig(JSON.stringify({ ...minimal, port }), file, {});
  const a = clientIdFrom(at('/etc/ft/config.json', 4443), 'car-host.example.com');
  t.equal(a, clientIdFrom(at('/etc/ft/config.json', 4443), 'car-host.example.com'), 'the same across restarts');
  t.match(a, /^fleet-telemetry-car-host-example-com-[0-9a-f]{8}$/);
  t.not(a, clientIdFrom(at('/etc/ft/config.json', 4444), 'car-host.example.com'), 'another port: another instance');
  t.not(a, clientIdFrom(at('/srv/ft2/config.json', 4443), 'car-host.example.com'), 'another installation');
  t.not(clientIdFrom(at('/etc/ft/config.json', 0)), a, 'port 0');
  t.equal(clientIdFrom(parseConfig(JSON.stringify({ ...minimal, mqtt: { client_id: 'mine' } }), 'c.json', {})), 'mine', 'mqtt.client_id wins');
});

t.test('workers: a number or "auto", used as given (no warning)', async (t) => {
  const with_ = (workers: unknown) => parseConfig(JSON.stringify({ ...minimal, workers }), 'c.json', {});
  t.equal(with_(1).workers, 1);
  t.same(with_(1).warnings, []);
  t.equal(with_(4).workers, 4);
  t.same(with_(4).warnings, []);
  t.equal(with_('auto').workers, 'auto');
  t.same(with_('auto').warnings, []);
  for (const bad of [0, 257, 'many', 1.5]) t.throws(() => with_(bad), { message: /workers/ }, `refused: ${JSON.stringify(bad)}`);
});
