import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { parseConfig } from '../src/config/load.js';
import { REFUSED_PRODUCERS } from '../src/config/schema.js';
import { CLI } from './helpers/server.js';
import { makePki } from './helpers/pki.js';

/**
 * Every key of Tesla's config.Config and the structs it embeds (config/config.go,
 * metrics.MonitoringConfig, mqtt.Config, simple.Config, zmq.Config, Kinesis, Pubsub, Redis,
 * Airbrake, TLS, RateLimit), as of Tesla's main on 2026-07-15. §7: each is accepted; what this
 * server does not use is named in the start-up warning.
 */
const TESLA_KEYS = [
  'host',
  'port',
  'status_port',
  'tls.ca_file',
  'tls.server_cert',
  'tls.server_key',
  'use_default_eng_ca',
  'rate_limit.enabled',
  'rate_limit.message_limit',
  'rate_limit.message_interval_time',
  'reliable_ack_sources',
  'kafka',
  'kinesis.max_retries',
  'kinesis.override_host',
  'kinesis.streams',
  'pubsub.gcp_project_id',
  'zmq.addr',
  'zmq.server_key_json_path',
  'zmq.allowed_public_keys_json_path',
  'zmq.verbose',
  'redis.addrs',
  'redis.username',
  'redis.password',
  'redis.db',
  'redis.tls',
  'redis.override_tls_server_name',
  'redis.pool',
  'redis.publish_timeout',
  'redis.cluster_mode',
  'redis.publish_vin_topics',
  'redis.subscriber_set_prefix',
  'namespace',
  'monitoring.prometheus_metrics_port',
  'monitoring.prometheus_metrics_host',
  'monitoring.statsd',
  'monitoring.profiler_port',
  'monitoring.profiler_host',
  'monitoring.profiling_path',
  'logger.verbose',
  'log_level',
  'json_log_enable',
  'records',
  'transmit_decoded_records',
  'vins_signal_tracking_enabled',
  'airbrake.host',
  'airbrake.project_key',
  'airbrake.environment',
  'airbrake.project_id',
  'airbrake.tls',
  'mqtt.broker',
  'mqtt.client_id',
  'mqtt.username',
  'mqtt.password',
  'mqtt.topic_base',
  'mqtt.qos',
  'mqtt.retained',
  'mqtt.connect_timeout_ms',
  'mqtt.publish_timeout_ms',
  'mqtt.disconnect_timeout_ms',
  'mqtt.connect_retry_interval_ms',
  'mqtt.keep_alive_seconds',
];

const SAMPLE: Record<string, unknown> = {
  host: '0.0.0.0',
  port: 4443,
  status_port: 8080,
  'tls.ca_file': 'ca.pem',
  'tls.server_cert': 's.pem',
  'tls.server_key': 's.key',
  use_default_eng_ca: false,
  'rate_limit.enabled': true,
  'rate_limit.message_limit': 1000,
  'rate_limit.message_interval_time': 30,
  reliable_ack_sources: { V: 'kafka' },
  kafka: { 'bootstrap.servers': 'kafka:9092' },
  'kinesis.max_retries': 3,
  'kinesis.override_host': 'http://kinesis:4566',
  'kinesis.streams': { V: 'v' },
  'pubsub.gcp_project_id': 'p',
  'zmq.addr': 'tcp://*:5284',
  'zmq.server_key_json_path': '/k.json',
  'zmq.allowed_public_keys_json_path': '/a.json',
  'zmq.verbose': true,
  'redis.addrs': ['redis:6379'],
  'redis.username': 'u',
  'redis.password': 'p',
  'redis.db': 0,
  'redis.tls': { ca_file: 'x' },
  'redis.override_tls_server_name': false,
  'redis.pool': { pool_size: 4 },
  'redis.publish_timeout': 1000000000,
  'redis.cluster_mode': false,
  'redis.publish_vin_topics': true,
  'redis.subscriber_set_prefix': 'c',
  namespace: 'tesla_telemetry',
  'monitoring.prometheus_metrics_port': 9090,
  'monitoring.prometheus_metrics_host': '127.0.0.2',
  'monitoring.statsd': { host: 's:8125', prefix: 'p', flush_period: 1000 },
  'monitoring.profiler_port': 4269,
  'monitoring.profiler_host': '0.0.0.0',
  'monitoring.profiling_path': '/tmp/p',
  'logger.verbose': true,
  log_level: 'info',
  json_log_enable: true,
  records: { V: ['mqtt', 'logger'] },
  transmit_decoded_records: true,
  vins_signal_tracking_enabled: ['device-1'],
  'airbrake.host': 'http://errbit',
  'airbrake.project_key': 'k',
  'airbrake.environment': 'e',
  'airbrake.project_id': 1,
  'airbrake.tls': { ca_file: 'x' },
  'mqtt.broker': 'mqtt:1883',
  'mqtt.client_id': 'client-1',
  'mqtt.username': 'u',
  'mqtt.password': 'p',
  'mqtt.topic_base': 'telemetry',
  'mqtt.qos': 1,
  'mqtt.retained': false,
  'mqtt.connect_timeout_ms': 30000,
  'mqtt.publish_timeout_ms': 1000,
  'mqtt.disconnect_timeout_ms': 250,
  'mqtt.connect_retry_interval_ms': 10000,
  'mqtt.keep_alive_seconds': 30,
};

function build(keys: string[]): Record<string, unknown> {
  const out: Record<string, Record<string, unknown>> = {};
  const top: Record<string, unknown> = out;
  for (const k of keys) {
    const [a, b] = k.split('.');
    if (b === undefined) top[a] = SAMPLE[k];
    else ((top[a] ??= {}) as Record<string, unknown>)[b] = SAMPLE[k];
  }
  return top;
}

t.test("every key of Tesla's config.Config is accepted at once", async (t) => {
  t.equal(Object.keys(SAMPLE).length, TESLA_KEYS.length, 'a sample value per key');
  const c = parseConfig(JSON.stringify(build(TESLA_KEYS)), '/etc/ft/config.json', {});
  t.equal(c.monitoring.host, '127.0.0.2', 'prometheus_metrics_host is the monitoring bind address');
  for (const k of ['monitoring.profiler_host', 'monitoring.profiler_port', 'monitoring.profiling_path', 'airbrake', 'logger', 'pubsub', 'redis.pool']) {
    t.ok(
      c.ignoredKeys.some((i) => i === k || i.startsWith(`${k}.`)),
      `${k} named in the start-up warning`,
    );
  }
  // Shipped producers whose block is present but that no record type routes to are named too.
  for (const k of ['kafka', 'kinesis', 'redis', 'zmq']) t.ok(c.ignoredKeys.includes(k), `${k} (not routed) named in the start-up warning`);
  t.equal(c.namespace, 'tesla_telemetry');
  t.equal(c.transmit_decoded_records, true);
  t.same(c.redis?.addrs, ['redis:6379']);
  t.equal(c.zmq?.addr, 'tcp://*:5284');
  t.notOk(c.ignoredKeys.includes('monitoring.prometheus_metrics_host'), 'prometheus_metrics_host is used, not ignored');
});

t.test('each Tesla key alone is accepted too', async (t) => {
  for (const k of TESLA_KEYS) {
    const cfg = { tls: { server_cert: 's.pem', server_key: 's.key' }, records: { V: ['logger'] }, ...(k.startsWith('tls.') ? {} : build([k])) } as Record<
      string,
      unknown
    >;
    if (k.startsWith('tls.')) (cfg.tls as Record<string, unknown>)[k.slice(4)] = SAMPLE[k];
    t.doesNotThrow(() => parseConfig(JSON.stringify(cfg), 'config.json', {}), k);
  }
  const host = parseConfig(
    JSON.stringify({ tls: { server_cert: 's', server_key: 'k' }, records: {}, monitoring: { prometheus_metrics_host: '' } }),
    'c.json',
    {},
  );
  t.equal(host.monitoring.host, '0.0.0.0', '"" binds every interface, as Tesla does');
});

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test', 'fixtures', 'configs');

t.test("Tesla's shipped configs through check-config (TLS paths adapted)", async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const adapt = (name: string) => {
    const c = JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')) as Record<string, unknown>;
    c.tls = { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile };
    const file = join(dir, name);
    writeFileSync(file, JSON.stringify(c));
    return file;
  };
  const ex = spawnSync(process.execPath, [CLI, 'check-config', adapt('tesla-server-config.json')], { encoding: 'utf8' });
  t.equal(ex.status, 0, `examples/server_config.json passes: ${ex.stdout}${ex.stderr}`);
  t.match(ex.stdout, /all checks passed/);

  // §7: every key is accepted; the producers refused here (Pub/Sub, for want of a server to prove
  // it against, and any not built yet) are each named with the record types that use it and why.
  const it = spawnSync(process.execPath, [CLI, 'check-config', adapt('tesla-integration.json')], { encoding: 'utf8' });
  t.equal(it.status, 2);
  t.notMatch(it.stderr + it.stdout, /unknown key/, 'no key refused');
  t.match(
    it.stderr,
    /producer "pubsub" \(used by V, connectivity\) is one of Tesla's and is refused here: no Google Pub\/Sub server or emulator runs on this machine/,
  );
  const routed = ['kafka', 'kinesis', 'pubsub', 'zmq', 'redis'];
  const refused = routed.filter((p) => p in REFUSED_PRODUCERS);
  for (const p of refused)
    t.match(it.stderr, `producer "${p}" (used by V, connectivity) is one of Tesla's and is refused here: ${REFUSED_PRODUCERS[p]}`, `${p} refused`);
  for (const p of routed.filter((p) => !refused.includes(p))) t.notMatch(it.stderr, `"${p}"`, `${p} is shipped`);
  const problems = it.stderr.split('\n').filter((l) => /\[\w+ \//.test(l));
  t.equal(problems.length, refused.length, `one problem per refused producer: ${it.stderr}`);

  // Without the refused producers the same file passes.
  const file = adapt('tesla-integration.json');
  const c = JSON.parse(readFileSync(file, 'utf8')) as { records: Record<string, string[]> };
  for (const type of Object.keys(c.records)) c.records[type] = c.records[type].filter((p) => !refused.includes(p));
  writeFileSync(file, JSON.stringify(c));
  const ok = spawnSync(process.execPath, [CLI, 'check-config', file], { encoding: 'utf8' });
  t.equal(ok.status, 0, `passes once the refused producers are left out: ${ok.stdout}${ok.stderr}`);
  t.match(ok.stdout, `V → ${c.records.V.join(', ')}`);
});
