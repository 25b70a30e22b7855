import t from 'tap';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderReference } from '../src/config/reference.js';
import { schemaAt } from '../src/config/describe.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

t.test('docs/configuration.md is the reference rendered from the schema', async (t) => {
  const committed = readFileSync(join(ROOT, 'docs', 'configuration.md'), 'utf8');
  const rendered = renderReference();
  t.ok(committed === rendered, 'docs/configuration.md is out of date: run `npx tsc -p tsconfig.json && node dist/config/reference.js docs/configuration.md`');
});

/** Every key contract §7 names, as a JSON Pointer. */
const CONTRACT_KEYS = [
  'host',
  'port',
  'status_port',
  'log_level',
  'json_log_enable',
  'namespace',
  'records',
  'tls/server_cert',
  'tls/server_key',
  'tls/ca_file',
  'tls/trust_tesla_ca',
  'use_default_eng_ca',
  'rate_limit/enabled',
  'rate_limit/message_limit',
  'rate_limit/message_interval_time',
  'monitoring/prometheus_metrics_port',
  'monitoring/profiler_port',
  'monitoring/profiling_path',
  'vins_signal_tracking_enabled',
  'reliable_ack',
  'reliable_ack_sources',
  'mqtt/broker',
  'mqtt/client_id',
  'mqtt/username',
  'mqtt/password',
  'mqtt/topic_base',
  'mqtt/qos',
  'mqtt/retained',
  'mqtt/connect_timeout_ms',
  'mqtt/publish_timeout_ms',
  'mqtt/disconnect_timeout_ms',
  'mqtt/connect_retry_interval_ms',
  'mqtt/keep_alive_seconds',
  'mqtt/payload_format',
  'mqtt/v',
  'mqtt/alerts_current',
  'mqtt/alerts_history',
  'mqtt/errors',
  'mqtt/connectivity',
  'kafka',
  'kinesis',
  'pubsub',
  'zmq',
  'redis',
  'statsd' /* Tesla's is monitoring.statsd */,
  'airbrake',
  'logger',
  'transmit_decoded_records',
];

t.test('the schema has every key of contract §7, and the docs list it', async (t) => {
  const docs = readFileSync(join(ROOT, 'docs', 'configuration.md'), 'utf8');
  for (const key of CONTRACT_KEYS) {
    const pointer = key === 'statsd' ? '/monitoring/statsd' : `/${key}`;
    const node = schemaAt(pointer);
    t.ok(node && schemaAt(pointer.split('/').slice(0, -1).join('/'))?.properties?.[pointer.split('/').pop()!], `${pointer} is in the schema`);
    t.ok(docs.includes(`| \`${pointer.split('/').pop()}\` |`), `${pointer} is in the reference`);
  }
});

t.test('the defaults of contract §7', async (t) => {
  const d = (p: string) => schemaAt(p)?.default;
  t.equal(d('/mqtt/qos'), 0);
  t.equal(d('/mqtt/retained'), false);
  t.equal(d('/mqtt/publish_timeout_ms'), 2500);
  t.equal(d('/mqtt/connect_timeout_ms'), 30000);
  t.equal(d('/mqtt/disconnect_timeout_ms'), 250);
  t.equal(d('/mqtt/connect_retry_interval_ms'), 10000);
  t.equal(d('/mqtt/keep_alive_seconds'), 30);
  t.equal(d('/mqtt/payload_format'), 'value');
  t.equal(d('/mqtt/broker'), 'embedded');
  t.equal(d('/tls/trust_tesla_ca'), true);
  t.same(schemaAt('/log_level')?.enum, ['trace', 'debug', 'info', 'warn', 'error']);
});

t.test('every key is described, so the reference has no empty row', async (t) => {
  const walk = (pointer: string) => {
    const node = schemaAt(pointer);
    for (const k of Object.keys(node?.properties ?? {})) {
      t.ok(schemaAt(`${pointer}/${k}`)?.description, `${pointer}/${k} has a description`);
      walk(`${pointer}/${k}`);
    }
  };
  walk('');
  walk('/producers/x');
});
