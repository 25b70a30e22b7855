import t from 'tap';
import { runCli, STACK, testdir } from './helpers/cli.js';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCa, issueCert, type KeyPairPem } from '../src/tls/dev-certs.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DAY = 24 * 60 * 60 * 1000;

// Each check is a fresh node process (~0.7 s on a small machine).
t.setTimeout(120_000);

let root: KeyPairPem;
let leaf: KeyPairPem;
let other: KeyPairPem;

t.before(async () => {
  root = await createCa({ commonName: 'CLI Test Root' });
  leaf = await issueCert(root, { commonName: 'localhost', kind: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  other = await issueCert(root, { commonName: 'other', kind: 'server', dnsNames: ['other'] });
});

/** A config that starts on free ports with the given TLS files; `edit` changes it. */
function goodConfig(edit: (c: Record<string, any>) => void = () => {}): string {
  const c: Record<string, any> = {
    host: '127.0.0.1',
    port: 0,
    records: { V: ['mqtt'], alerts: ['mqtt'] },
    tls: { server_cert: 'server.pem', server_key: 'server.key', ca_file: 'ca.pem' },
    mqtt: { broker: 'embedded', embedded_port: 0 },
  };
  edit(c);
  return JSON.stringify(c, null, 2);
}

const invalid: { name: string; text: string; env?: Record<string, string>; says: string[] }[] = [
  { name: 'unknown key', text: goodConfig((c) => (c.prot = 443)), says: ['prot', 'did you mean "port"'] },
  { name: 'qos out of range', text: goodConfig((c) => (c.mqtt.qos = 3)), says: ['mqtt.qos', '/mqtt/qos', '3 is not allowed'] },
  { name: 'JSON syntax', text: '{\n  "port": 443,\n  "records": {"V": ["mqtt"],}\n}', says: ['line 3, column 29', 'trailing comma'] },
  { name: 'Tesla producer', text: goodConfig((c) => (c.records = { V: ['pubsub'], alerts: ['pubsub', 'mqtt'] })), says: ['records', '"pubsub"', 'V, alerts'] },
  { name: 'empty record list', text: goodConfig((c) => (c.records.alerts = [])), says: ['records.alerts', 'empty list'] },
  { name: 'missing variable', text: goodConfig((c) => (c.mqtt.password = '${BROKER_PASSWORD}')), says: ['mqtt.password', 'BROKER_PASSWORD'] },
  { name: 'missing TLS key', text: goodConfig((c) => delete c.tls.server_key), says: ['tls.server_key', 'required'] },
];

t.test('serve and check-config refuse an invalid config: exit 2, the path, no stack trace', async (t) => {
  const tls = { 'server.pem': leaf.certPem, 'server.key': leaf.keyPem, 'ca.pem': root.certPem };
  const dir = testdir(t, Object.fromEntries(invalid.map((c, i) => [`case${i}`, { ...tls, 'config.json': c.text }])));
  // One at a time: fourteen node processes at once overran the guard on a loaded 2-core machine.
  const runs = [];
  for (const [i, c] of invalid.entries()) {
    for (const args of [
      ['serve', '--config', 'config.json'],
      ['check-config', 'config.json'],
    ]) {
      runs.push({ c, args, r: await runCli(args, join(dir, `case${i}`), { env: c.env }) });
    }
  }
  for (const { c, args, r } of runs) {
    const what = `${args[0]}, ${c.name}`;
    t.equal(r.code, 2, `${what}: exit 2`);
    for (const s of c.says) t.ok(r.stderr.includes(s), `${what}: stderr says ${JSON.stringify(s)}\n${r.stderr}`);
    t.match(r.stderr, /^config\.json: /, `${what}: the file is named`);
    t.notMatch(r.stderr, STACK, `${what}: no stack trace`);
    t.notMatch(r.stdout, /listening/, `${what}: nothing started`);
  }
});

t.test('a config file that does not exist', async (t) => {
  const dir = testdir(t, {});
  for (const args of [
    ['serve', '--config', 'nope.json'],
    ['check-config', 'nope.json'],
  ]) {
    const r = await runCli(args, dir);
    t.equal(r.code, 2);
    t.match(r.stderr, /nope\.json: cannot read the config file: no such file/);
    t.notMatch(r.stderr, STACK);
  }
});

t.test('check-config on a good setup: ok lines, exit 0', async (t) => {
  const dir = testdir(t, { 'server.pem': leaf.certPem, 'server.key': leaf.keyPem, 'ca.pem': root.certPem, 'config.json': goodConfig() });
  const r = await runCli(['check-config', 'config.json', '--hostname', 'localhost'], dir);
  t.equal(r.code, 0, r.stdout + r.stderr);
  const lines = r.stdout.trim().split('\n');
  t.match(lines[0], /^ok    config: config\.json is valid; records: V → mqtt; alerts → mqtt; connectivity → mqtt \(as the other record types\)/);
  for (const check of ['server_cert', 'server_key', 'chain', 'expiry', 'names', 'hostname', 'ca_file', 'tesla_ca']) {
    t.ok(
      lines.some((l) => l.startsWith(`ok    ${check}: `)),
      `an ok ${check} line`,
    );
  }
  t.equal(lines[lines.length - 1], 'all checks passed');
  t.equal(r.stderr, '');
});

t.test("check-config on Tesla's example: loads, names what is not used", async (t) => {
  const tesla = JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'configs', 'tesla-example.json'), 'utf8')) as Record<string, any>;
  tesla.tls = { server_cert: 'server.pem', server_key: 'server.key' };
  const dir = testdir(t, { 'server.pem': leaf.certPem, 'server.key': leaf.keyPem, 'config.json': JSON.stringify(tesla) });
  const r = await runCli(['check-config', 'config.json'], dir);
  t.equal(r.code, 0, r.stdout + r.stderr);
  const unused = r.stdout.split('\n').find((l) => l.startsWith('warn  config: accepted but not used'));
  t.ok(unused, 'one warning names the unused keys');
  for (const k of [
    'reliable_ack (acks here are always reliable)',
    'monitoring.profiler_port',
    'monitoring.profiling_path',
    'monitoring.statsd',
    'logger',
    'kafka',
    'kinesis',
  ]) {
    t.ok(unused?.includes(k), `names ${k}`);
  }
  t.match(r.stdout, /records: alerts → logger; errors → logger; V → logger/);
});

t.test('check-config catches a mismatched key, a missing intermediate and an expired certificate: exit 1', async (t) => {
  const int = await createCa({ commonName: 'CLI Test Intermediate', issuer: root });
  const fromInt = await issueCert(int, { commonName: 'localhost', kind: 'server', dnsNames: ['localhost'] });
  const expired = await issueCert(root, {
    commonName: 'localhost',
    kind: 'server',
    dnsNames: ['localhost'],
    notBefore: new Date(Date.now() - 100 * DAY),
    notAfter: new Date(Date.now() - DAY),
  });
  const cases = [
    {
      name: 'mismatched key',
      cert: leaf.certPem,
      key: other.keyPem,
      says: /^fail  server_key: server\.key does not match the server certificate "localhost"/m,
    },
    { name: 'missing intermediate', cert: fromInt.certPem, key: fromInt.keyPem, says: /^fail  chain: missing intermediate "CLI Test Intermediate"/m },
    { name: 'expired', cert: expired.certPem, key: expired.keyPem, says: /^fail  expiry: the server certificate "localhost" expired on/m },
  ];
  for (const c of cases) {
    const dir = testdir(t, { 'server.pem': c.cert, 'server.key': c.key, 'ca.pem': root.certPem, 'config.json': goodConfig() });
    const r = await runCli(['check-config', 'config.json'], dir);
    t.equal(r.code, 1, `${c.name}: exit 1`);
    t.match(r.stdout, c.says, c.name);
    t.match(r.stdout, /1 check failed\n$/, `${c.name}: one failure`);
    t.notMatch(r.stdout + r.stderr, STACK);
  }
});

t.test('serve runs the same checks at start: a failure stops it with exit 2', async (t) => {
  const dir = testdir(t, { 'server.pem': leaf.certPem, 'server.key': other.keyPem, 'ca.pem': root.certPem, 'config.json': goodConfig() });
  const r = await runCli(['serve', '--config', 'config.json'], dir);
  t.equal(r.code, 2);
  t.match(r.stderr, /cannot start: TLS check failed:\nfail  server_key: server\.key does not match/);
  t.notMatch(r.stderr, STACK);
  t.notMatch(r.stdout, /listening/);
});

t.test('serve starts with a good setup and logs the warnings', async (t) => {
  const soon = await issueCert(root, { commonName: 'localhost', kind: 'server', dnsNames: ['localhost'], days: 7 });
  const config = goodConfig((c) => {
    c.reliable_ack = true;
  });
  const dir = testdir(t, { 'server.pem': soon.certPem, 'server.key': soon.keyPem, 'ca.pem': root.certPem, 'config.json': config });
  // Stop once fully up: listening, and the producer connected to the broker.
  const up = (out: string) => /vehicle server listening/.test(out) && /connected to the MQTT broker/.test(out);
  const r = await runCli(['serve', '--config', 'config.json'], dir, { until: up });
  t.match(r.stdout, /vehicle server listening/, r.stdout + r.stderr);
  t.match(r.stdout, /WARN .*accepted but not used by this server: reliable_ack/);
  t.match(r.stdout, /WARN .*the server certificate "localhost" expires on/);
  t.equal(r.code, 0, 'stops cleanly on SIGTERM');
});

t.test('check-config imports each plugin as serve would: a wrong path or a module without a factory fails, exit 1', async (t) => {
  const dir = testdir(t, {
    'server.pem': leaf.certPem,
    'server.key': leaf.keyPem,
    'ca.pem': root.certPem,
    'empty.mjs': 'export const nothing = 1;\n',
    'broken.mjs': 'export default (\n',
    'config.json': goodConfig((c) => {
      c.records.V = ['mqtt', 'score', 'missing', 'empty', 'broken'];
      c.producers = {
        score: { module: 'fleet-telemetry/plugins/driver-score' },
        missing: { module: './nope.mjs' },
        empty: { module: './empty.mjs' },
        broken: { module: './broken.mjs' },
      };
    }),
  });
  const r = await runCli(['check-config', 'config.json'], dir);
  t.equal(r.code, 1, r.stdout + r.stderr);
  const plugin = r.stdout.split('\n').filter((l) => / plugin: /.test(l));
  t.equal(plugin.length, 4, r.stdout);
  t.match(plugin[0], /^ok    plugin: producers\.score: fleet-telemetry\/plugins\/driver-score loads and exports a factory$/);
  t.match(plugin[1], /^fail  plugin: producers\.missing: cannot load producer module \.\/nope\.mjs: /);
  t.match(plugin[2], /^fail  plugin: producers\.empty: producer module \.\/empty\.mjs exports no factory/);
  t.match(plugin[3], /^fail  plugin: producers\.broken: cannot load producer module \.\/broken\.mjs: .*(Unexpected|SyntaxError)/);
  t.match(r.stdout, /3 checks failed\n$/);
  t.notMatch(r.stdout + r.stderr, STACK);
});
