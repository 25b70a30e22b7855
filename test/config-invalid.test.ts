import t from 'tap';
import { parseConfig } from '../src/config/load.js';
import { ConfigError, dottedPath } from '../src/config/errors.js';

/** A config that loads; each case changes one thing. */
function base(): Record<string, any> {
  return {
    tls: { server_cert: 'server.pem', server_key: 'server.key' },
    records: { V: ['mqtt'] },
  };
}

interface Case {
  name: string;
  /** The config: an edit of base(), or raw text. */
  config: ((c: Record<string, any>) => void) | string;
  env?: Record<string, string>;
  /** JSON Pointer a problem must name ('' for the file as a whole). */
  path: string;
  /** Text the lines must contain (the value, what is allowed, a suggestion). */
  says?: (string | RegExp)[];
  /** Text that must not appear (secrets). */
  never?: string[];
}

const cases: Case[] = [
  // Values out of range or of the wrong type: the value and what is allowed.
  { name: 'port too large', config: (c) => (c.port = 70000), path: '/port', says: ['70000', 'an integer from 0 to 65535'] },
  { name: 'port negative', config: (c) => (c.port = -1), path: '/port', says: ['-1', 'allowed: an integer from 0 to 65535'] },
  { name: 'port quoted', config: (c) => (c.port = '443'), path: '/port', says: ['"443"', 'without quotes'] },
  { name: 'port fractional', config: (c) => (c.port = 443.5), path: '/port', says: ['443.5'] },
  { name: 'status_port text', config: (c) => (c.status_port = 'eighty'), path: '/status_port', says: ['"eighty"'] },
  {
    name: 'log_level unknown',
    config: (c) => (c.log_level = 'verbose'),
    path: '/log_level',
    says: ['"verbose"', '"trace", "debug", "info", "warn" or "error"'],
  },
  { name: 'log_level upper case', config: (c) => (c.log_level = 'INFO'), path: '/log_level', says: ['"INFO"'] },
  { name: 'json_log_enable text', config: (c) => (c.json_log_enable = 'yes'), path: '/json_log_enable', says: ['"yes"', 'true or false'] },
  { name: 'host a number', config: (c) => (c.host = 127), path: '/host', says: ['127', 'a string'] },
  { name: 'use_default_eng_ca a number', config: (c) => (c.use_default_eng_ca = 1), path: '/use_default_eng_ca', says: ['true or false'] },
  {
    name: 'vins_signal_tracking_enabled a string',
    config: (c) => (c.vins_signal_tracking_enabled = 'VIN1'),
    path: '/vins_signal_tracking_enabled',
    says: ['a list of strings'],
  },
  // Unknown keys name the closest known key.
  { name: 'typo at the top level', config: (c) => (c.prot = 443), path: '/prot', says: ['did you mean "port"'] },
  { name: 'camelCase key', config: (c) => (c.logLevel = 'info'), path: '/logLevel', says: ['did you mean "log_level"'] },
  { name: 'key at the wrong level', config: (c) => (c.topic_base = 'x'), path: '/topic_base', says: ['mqtt.topic_base'] },
  { name: 'unrelated key', config: (c) => (c.frobnicate = true), path: '/frobnicate', says: ['closest known key'] },
  { name: 'tls key typo', config: (c) => (c.tls.server_crt = 'x.pem'), path: '/tls/server_crt', says: ['did you mean "server_cert"'] },
  {
    name: 'rate_limit camelCase',
    config: (c) => (c.rate_limit = { messageLimit: 5 }),
    path: '/rate_limit/messageLimit',
    says: ['did you mean "message_limit"'],
  },
  { name: 'mqtt shortened key', config: (c) => (c.mqtt = { alerts: { qos: 1 } }), path: '/mqtt/alerts', says: ['"alerts_current" or "alerts_history"'] },
  { name: 'mqtt key typo', config: (c) => (c.mqtt = { topicbase: 'x' }), path: '/mqtt/topicbase', says: ['did you mean "topic_base"'] },
  { name: 'unknown record type', config: (c) => (c.records.alert = ['mqtt']), path: '/records/alert', says: ['did you mean "alerts"'] },
  // Required keys.
  { name: 'records missing', config: (c) => delete c.records, path: '/records', says: ['required'] },
  { name: 'tls missing', config: (c) => delete c.tls, path: '/tls', says: ['required'] },
  { name: 'server_cert missing', config: (c) => delete c.tls.server_cert, path: '/tls/server_cert', says: ['required key "server_cert"'] },
  { name: 'server_key empty', config: (c) => (c.tls.server_key = ''), path: '/tls/server_key', says: ['a non-empty string'] },
  { name: 'ca_file a number', config: (c) => (c.tls.ca_file = 5), path: '/tls/ca_file' },
  { name: 'no CA at all', config: (c) => (c.tls.trust_tesla_ca = false), path: '/tls/ca_file', says: ['trust_tesla_ca is false'] },
  { name: 'trust_tesla_ca text', config: (c) => (c.tls.trust_tesla_ca = 'no'), path: '/tls/trust_tesla_ca', says: ['true or false'] },
  { name: 'tls null', config: (c) => (c.tls = null), path: '/tls', says: ['null', 'an object'] },
  // Records and producers.
  { name: 'records a list', config: (c) => (c.records = ['mqtt']), path: '/records', says: ['record types'] },
  { name: 'empty producer list', config: (c) => (c.records.V = []), path: '/records/V', says: ['empty list'] },
  { name: 'producer list a string', config: (c) => (c.records.V = 'mqtt'), path: '/records/V', says: ['"mqtt"', 'non-empty list'] },
  { name: 'producer listed twice', config: (c) => (c.records.V = ['mqtt', 'mqtt']), path: '/records/V', says: ['listed twice'] },
  { name: 'producer typo', config: (c) => (c.records.V = ['mqqt']), path: '/records/V/0', says: ['"mqqt" does not exist', 'did you mean "mqtt"'] },
  { name: 'producer name empty', config: (c) => (c.records.V = ['']), path: '/records/V/0' },
  { name: 'producer name a number', config: (c) => (c.records.alerts = [1]), path: '/records/alerts/0' },
  { name: 'undeclared plugin', config: (c) => (c.records.errors = ['myplugin']), path: '/records/errors/0', says: ['"myplugin" does not exist'] },
  {
    name: 'Tesla producer pubsub',
    config: (c) => (c.records = { V: ['pubsub', 'mqtt'], alerts: ['pubsub'] }),
    path: '/records',
    says: ['"pubsub"', 'V, alerts', 'refused here', 'Pub/Sub'],
  },
  { name: 'redis routed without its block', config: (c) => (c.records.alerts = ['redis']), path: '/redis', says: ['alerts', 'redis'] },
  {
    name: 'redis with nowhere to publish',
    config: (c) => ((c.records.V = ['redis']), (c.redis = { addrs: ['r:6379'] })),
    path: '/redis/publish_vin_topics',
    says: ['subscriber_set_prefix'],
  },
  { name: 'zmq routed without addr', config: (c) => ((c.records.V = ['zmq']), (c.zmq = {})), path: '/zmq/addr', says: ['V'] },
  {
    name: 'zmq with several workers',
    config: (c) => ((c.records.V = ['zmq']), (c.zmq = { addr: 'tcp://*:5284' }), (c.workers = 2)),
    path: '/workers',
    says: ['zmq.addr'],
  },
  { name: 'redis addrs empty', config: (c) => (c.redis = { addrs: [] }), path: '/redis/addrs' },
  { name: 'redis publish_timeout not nanoseconds', config: (c) => (c.redis = { publish_timeout: '5s' }), path: '/redis/publish_timeout' },
  { name: 'zmq addr not an endpoint', config: (c) => (c.zmq = { addr: 'localhost:5284' }), path: '/zmq/addr', says: ['tcp://'] },
  { name: 'plugin named like a built-in', config: (c) => (c.producers = { mqtt: { module: './x.js' } }), path: '/producers/mqtt', says: ['built-in'] },
  { name: 'plugin without module', config: (c) => (c.producers = { mine: { options: {} } }), path: '/producers/mine/module', says: ['required'] },
  {
    name: 'plugin with an unknown key',
    config: (c) => (c.producers = { mine: { module: './x.js', opts: {} } }),
    path: '/producers/mine/opts',
    says: ['did you mean "options"'],
  },
  { name: 'plugin options a string', config: (c) => (c.producers = { mine: { module: './x.js', options: 'fast' } }), path: '/producers/mine/options' },
  {
    name: 'status_port equal to port',
    config: (c) => Object.assign(c, { port: 8443, status_port: 8443 }),
    path: '/status_port',
    says: ['8443 is already port'],
  },
  {
    name: 'embedded broker on the metrics port',
    config: (c) => Object.assign(c, { monitoring: { prometheus_metrics_port: 1883 } }),
    path: '/mqtt/embedded_port',
    says: ['monitoring.prometheus_metrics_port'],
  },
  // Rate limit and monitoring.
  { name: 'rate_limit enabled quoted', config: (c) => (c.rate_limit = { enabled: 'true' }), path: '/rate_limit/enabled', says: ['without quotes'] },
  {
    name: 'message_limit zero',
    config: (c) => (c.rate_limit = { message_limit: 0 }),
    path: '/rate_limit/message_limit',
    says: ['0 is not allowed', 'at least 1'],
  },
  {
    name: 'message_interval_time zero',
    config: (c) => (c.rate_limit = { message_interval_time: 0 }),
    path: '/rate_limit/message_interval_time',
    says: ['greater than 0'],
  },
  {
    name: 'metrics port too large',
    config: (c) => (c.monitoring = { prometheus_metrics_port: 99999 }),
    path: '/monitoring/prometheus_metrics_port',
    says: ['99999'],
  },
  {
    name: 'monitoring unknown key',
    config: (c) => (c.monitoring = { prometheus_port: 9090 }),
    path: '/monitoring/prometheus_port',
    says: ['prometheus_metrics_port'],
  },
  // MQTT.
  { name: 'qos 3', config: (c) => (c.mqtt = { qos: 3 }), path: '/mqtt/qos', says: ['3 is not allowed', '0, 1 or 2'] },
  { name: 'qos quoted', config: (c) => (c.mqtt = { qos: '1' }), path: '/mqtt/qos', says: ['"1"', 'without quotes'] },
  { name: 'retained quoted', config: (c) => (c.mqtt = { retained: 'false' }), path: '/mqtt/retained' },
  { name: 'payload_format json', config: (c) => (c.mqtt = { payload_format: 'json' }), path: '/mqtt/payload_format', says: ['"value" or "raw"'] },
  { name: 'broker http URL', config: (c) => (c.mqtt = { broker: 'http://broker:1883' }), path: '/mqtt/broker', says: ['"http://broker:1883"', 'host:port'] },
  { name: 'broker WebSocket URL', config: (c) => (c.mqtt = { broker: 'wss://broker/mqtt' }), path: '/mqtt/broker' },
  {
    name: 'broker TLS client cert without its key',
    config: (c) => (c.mqtt = { broker: 'mqtts://b:8883', tls: { cert_file: 'c.pem' } }),
    path: '/mqtt/tls/key_file',
    says: ['cert_file needs it'],
  },
  { name: 'broker pin malformed', config: (c) => (c.mqtt = { tls: { pin_sha256: 'abc' } }), path: '/mqtt/tls/pin_sha256', says: ['"abc"', 'base64 SHA-256'] },
  { name: 'broker empty', config: (c) => (c.mqtt = { broker: '' }), path: '/mqtt/broker' },
  { name: 'broker with a space', config: (c) => (c.mqtt = { broker: 'broker 1883' }), path: '/mqtt/broker' },
  { name: 'publish timeout zero', config: (c) => (c.mqtt = { publish_timeout_ms: 0 }), path: '/mqtt/publish_timeout_ms' },
  { name: 'keep-alive negative', config: (c) => (c.mqtt = { keep_alive_seconds: -5 }), path: '/mqtt/keep_alive_seconds' },
  { name: 'per-kind qos', config: (c) => (c.mqtt = { v: { qos: 5 } }), path: '/mqtt/v/qos', says: ['5 is not allowed'] },
  { name: 'per-kind retained', config: (c) => (c.mqtt = { alerts_current: { retained: 1 } }), path: '/mqtt/alerts_current/retained' },
  {
    name: 'per-kind unknown key',
    config: (c) => (c.mqtt = { alerts_history: { retain: true } }),
    path: '/mqtt/alerts_history/retain',
    says: ['did you mean "retained"'],
  },
  { name: 'per-kind settings not an object', config: (c) => (c.mqtt = { connectivity: true }), path: '/mqtt/connectivity' },
  { name: 'mqtt a string', config: (c) => (c.mqtt = 'localhost:1883'), path: '/mqtt', says: ['an object'] },
  { name: 'password not echoed', config: (c) => (c.mqtt = { password: 1234567 }), path: '/mqtt/password', never: ['1234567'] },
  // Tesla keys are accepted, but with their own types.
  { name: 'reliable_ack text', config: (c) => (c.reliable_ack = 'yes'), path: '/reliable_ack' },
  { name: 'kafka block a string', config: (c) => (c.kafka = 'kafka:9092'), path: '/kafka' },
  { name: 'profiler_port text', config: (c) => (c.monitoring = { profiler_port: 'x' }), path: '/monitoring/profiler_port' },
  // Environment references.
  { name: 'missing variable', config: (c) => (c.mqtt = { password: '${MQTT_SECRET}' }), path: '/mqtt/password', says: ['MQTT_SECRET'] },
  {
    name: 'missing variable inside a path',
    config: (c) => (c.tls.server_cert = '${CERT_DIR}/server.pem'),
    path: '/tls/server_cert',
    says: ['CERT_DIR is not set'],
  },
  { name: 'variable of the wrong type', config: (c) => (c.port = '${PORT}'), env: { PORT: 'https' }, path: '/port', says: ['"https"'] },
  // Not JSON, or not an object: the line and column.
  { name: 'trailing comma', config: '{\n  "port": 443,\n}\n', path: '', says: ['line 3, column 1', 'trailing comma'] },
  { name: 'comment', config: '{\n  "port": 443 // vehicles\n}', path: '', says: ['line 2, column 15', 'comments'] },
  { name: 'single quotes', config: "{\n  'port': 443\n}", path: '', says: ['line 2, column 3', 'double quotes'] },
  { name: 'missing comma', config: '{\n  "host": "0.0.0.0"\n  "port": 443\n}', path: '', says: ['line 3, column 3', 'missing comma'] },
  { name: 'unclosed object', config: '{\n  "tls": {\n    "server_cert": "a"\n', path: '', says: ['line 4', 'ends early'] },
  { name: 'unquoted word', config: '{"log_level": info}', path: '', says: ['line 1, column 15', 'info'] },
  { name: 'Python booleans', config: '{"json_log_enable": True}', path: '', says: ['lower case'] },
  { name: 'unclosed string', config: '{"host": "0.0.0.0}\n', path: '', says: ['line 1, column 19'] },
  { name: 'empty file', config: '', path: '', says: ['empty'] },
  { name: 'top-level list', config: '[{"port": 443}]', path: '', says: ['JSON object'] },
  { name: 'absurd nesting', config: '{"a":' + '['.repeat(100000), path: '', says: ['nested more than 100 levels'] },
  { name: 'text after the object', config: '{"port": 443}}', path: '', says: ['line 1, column 14'] },
];

t.test('every invalid config is one line per problem naming its path, without a stack trace', async (t) => {
  t.ok(cases.length >= 40, `${cases.length} invalid configs`);
  t.equal(new Set(cases.map((c) => c.name)).size, cases.length, 'names are distinct');
  for (const c of cases) {
    let text: string;
    if (typeof c.config === 'string') text = c.config;
    else {
      const cfg = base();
      c.config(cfg);
      text = JSON.stringify(cfg, null, 2);
    }
    let err: unknown;
    try {
      parseConfig(text, 'config.json', c.env ?? {});
    } catch (e) {
      err = e;
    }
    if (!(err instanceof ConfigError)) {
      t.fail(`${c.name}: expected a ConfigError, got ${err === undefined ? 'none' : err instanceof Error ? String(err) : JSON.stringify(err)}`);
      continue;
    }
    const paths = err.problems.map((p) => p.path);
    t.ok(paths.includes(c.path), `${c.name}: names ${c.path || 'the file'} (got ${paths.join(', ')})`);
    const lines = err.message.split('\n');
    t.equal(lines.length, err.problems.length, `${c.name}: one line per problem`);
    for (const line of lines) {
      t.match(line, /^config\.json: /, `${c.name}: the line names the file`);
      t.notMatch(line, /^\s+at /, `${c.name}: no stack trace`);
    }
    if (c.path) t.ok(err.message.includes(`${dottedPath(c.path)}: `), `${c.name}: the dotted path ${dottedPath(c.path)} is in the message`);
    for (const s of c.says ?? []) {
      if (typeof s === 'string') t.ok(err.message.includes(s), `${c.name}: says ${JSON.stringify(s)}\n  ${err.message}`);
      else t.match(err.message, s, `${c.name}: says ${s}`);
    }
    for (const s of c.never ?? []) t.notOk(err.message.includes(s), `${c.name}: never shows ${s}`);
    for (const p of err.problems) {
      if (p.code === 'invalid_type' || p.code === 'invalid_value') t.match(p.message, /allowed: /, `${c.name}: says what is allowed`);
    }
  }
});

t.test('a wrong value is reported once, not once per schema keyword', async (t) => {
  const cfg = base();
  cfg.mqtt = { qos: '2' }; // fails both "integer" and "enum"
  try {
    parseConfig(JSON.stringify(cfg), 'c.json', {});
    t.fail('should throw');
  } catch (err) {
    t.equal((err as ConfigError).problems.length, 1);
  }
});

t.test('every problem of a file is listed, not only the first', async (t) => {
  const cfg = base();
  cfg.port = 'x';
  cfg.mqtt = { qos: 7, brokr: 'a:1' };
  cfg.records.V = ['mqqt'];
  try {
    parseConfig(JSON.stringify(cfg), 'c.json', {});
    t.fail('should throw');
  } catch (err) {
    const paths = (err as ConfigError).problems.map((p) => p.path).sort();
    t.same(paths, ['/mqtt/brokr', '/mqtt/qos', '/port']);
  }
});
