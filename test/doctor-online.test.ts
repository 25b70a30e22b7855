import t, { type Test } from 'tap';
import { runCli, STACK, testdir } from './helpers/cli.js';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCa, issueCert, type KeyPairPem } from '../src/tls/dev-certs.js';
import { startMosquitto, type Mosquitto } from './helpers/mosquitto.js';
import { freePort } from './helpers/ports.js';
import { startServer } from './helpers/server.js';

// `check-config --online`: what serve would fail on at start (a port in use, a host that does not
// resolve, a broker that is down or refuses the credentials) is a fail line naming the config key,
// and exit 1; a config serve can start with passes, exit 0. Each check runs the real CLI.

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

t.setTimeout(180_000);

let root: KeyPairPem;
let leaf: KeyPairPem;

t.before(async () => {
  root = await createCa({ commonName: 'Doctor Test Root' });
  leaf = await issueCert(root, { commonName: 'localhost', kind: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
});

/** A directory holding good TLS material and a config with `edit` applied; free ports throughout. */
async function setup(t: Test, edit: (c: Record<string, any>) => void = () => {}): Promise<string> {
  const c: Record<string, any> = {
    host: '127.0.0.1',
    port: await freePort(),
    status_port: await freePort(),
    records: { V: ['mqtt'], alerts: ['mqtt'] },
    tls: { server_cert: 'server.pem', server_key: 'server.key', ca_file: 'ca.pem' },
    monitoring: { prometheus_metrics_port: await freePort() },
    mqtt: { broker: 'embedded', embedded_port: await freePort() },
  };
  edit(c);
  // t.testdir resets its folder when called again: one per test, a numbered folder per config.
  let base = bases.get(t);
  if (!base) bases.set(t, (base = testdir(t, {})));
  const dir = join(base, `config-${++configs}`);
  mkdirSync(dir);
  const files = { 'server.pem': leaf.certPem, 'server.key': leaf.keyPem, 'ca.pem': root.certPem, 'config.json': JSON.stringify(c, null, 2) };
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const bases = new WeakMap<Test, string>();
let configs = 0;

t.test('a config serve can start with: every line ok, exit 0', async (t) => {
  const dir = await setup(t);
  const r = await runCli(['check-config', '--online', 'config.json'], dir);
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.match(r.stdout, /^ok    host: 127\.0\.0\.1 \(host\) is an IP address$/m);
  for (const key of ['port', 'status_port', 'monitoring.prometheus_metrics_port', 'mqtt.embedded_port']) {
    t.match(r.stdout, new RegExp(`^ok    port: 127\\.0\\.0\\.1:\\d+ \\(${key.replace(/\./g, '\\.')}\\) is free$`, 'm'), `a line for ${key}`);
  }
  t.match(r.stdout, /^ok    broker: embedded/m);
  t.notMatch(r.stdout, /^(fail|warn) /m);
  t.match(r.stdout, /all checks passed\n$/);
  t.equal(r.stderr, '');
});

t.test('a port held by another process: a fail line naming the key, exit 1; without --online no network', async (t) => {
  // check-config probes a held port for this server: the holder takes its probes and drops them.
  const holder: Server = createServer((sock) =>
    sock
      .on('error', () => {})
      .resume()
      .end(),
  );
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => holder.close(() => resolve())));
  const held = (holder.address() as AddressInfo).port;

  const dir = await setup(t, (c) => (c.port = held));
  const r = await runCli(['check-config', '--online', 'config.json'], dir);
  t.equal(r.code, 1, r.stdout + r.stderr);
  t.match(r.stdout, new RegExp(`^fail  port: 127\\.0\\.0\\.1:${held} \\(port\\) is in use by another process`, 'm'));
  t.match(r.stdout, /^ok    port: 127\.0\.0\.1:\d+ \(status_port\) is free$/m, 'the other ports are still checked');
  t.match(r.stdout, /1 check failed\n$/);
  t.notMatch(r.stdout + r.stderr, STACK);

  const offline = await runCli(['check-config', 'config.json'], dir);
  t.equal(offline.code, 0, 'without --online the port is not tried');
  t.notMatch(offline.stdout, / (port|host|broker): /);

  // The embedded broker's port taken, as by a mosquitto on this machine: the key, and what to do.
  const dir2 = await setup(t, (c) => (c.mqtt.embedded_port = held));
  const r2 = await runCli(['check-config', '--online', 'config.json'], dir2);
  t.equal(r2.code, 1);
  t.match(
    r2.stdout,
    new RegExp(
      `^fail  port: 127\\.0\\.0\\.1:${held} \\(mqtt\\.embedded_port\\) is in use by another process, often another MQTT broker.*"broker": "127\\.0\\.0\\.1:${held}"`,
      'm',
    ),
  );
});

t.test('beside the server of this config, running: its ports are ok as in use by it, exit 0', async (t) => {
  const dir = await setup(t);
  const c = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, any>;
  const server = await startServer(dir, c);
  t.teardown(() => server.stop());
  const r = await runCli(['check-config', '--online', 'config.json'], dir);
  t.equal(r.code, 0, r.stdout + r.stderr);
  const inUse = (key: string, port: number, how: string) =>
    new RegExp(`^ok    port: 127\\.0\\.0\\.1:${port} \\(${key.replace(/\./g, '\\.')}\\) is in use by this server, already running \\(${how}\\)$`, 'm');
  t.match(r.stdout, inUse('port', c.port, 'it presents tls\\.server_cert'));
  t.match(r.stdout, inUse('status_port', c.status_port, 'it answers /status and /readyz'));
  t.match(r.stdout, inUse('monitoring.prometheus_metrics_port', c.monitoring.prometheus_metrics_port, 'its /metrics are fleet_telemetry_\\*'));
  t.match(r.stdout, inUse('mqtt.embedded_port', c.mqtt.embedded_port, 'it accepts MQTT and the vehicle port is this server'));
  t.match(r.stdout, /all checks passed\n$/);

  // Another config on the same ports, with a certificate of its own: that server is not its own.
  const other = await setup(t, (o) => {
    o.port = c.port;
    o.mqtt.embedded_port = c.mqtt.embedded_port;
  });
  const otherLeaf = await issueCert(root, { commonName: 'localhost', kind: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  writeFileSync(join(other, 'server.pem'), otherLeaf.certPem);
  writeFileSync(join(other, 'server.key'), otherLeaf.keyPem);
  const r2 = await runCli(['check-config', '--online', 'config.json'], other);
  t.equal(r2.code, 1, r2.stdout + r2.stderr);
  t.match(r2.stdout, new RegExp(`^fail  port: 127\\.0\\.0\\.1:${c.port} \\(port\\) is in use by another process`, 'm'));
  t.match(
    r2.stdout,
    new RegExp(`^fail  port: 127\\.0\\.0\\.1:${c.mqtt.embedded_port} \\(mqtt\\.embedded_port\\) is in use by another process`, 'm'),
    'an MQTT broker counts as ours only beside our vehicle port',
  );
});

t.test('a host that does not resolve: fail, exit 1', async (t) => {
  const dir = await setup(t, (c) => (c.host = 'no-such-host.invalid'));
  const r = await runCli(['check-config', '--online', 'config.json'], dir);
  t.equal(r.code, 1, r.stdout + r.stderr);
  t.match(r.stdout, /^fail  host: no-such-host\.invalid \(host\) does not resolve/m);
  t.notMatch(r.stdout + r.stderr, STACK);
});

t.test('a broker nobody listens on: fail as unreachable, exit 1', async (t) => {
  const port = await freePort();
  const dir = await setup(t, (c) => (c.mqtt = { broker: `127.0.0.1:${port}` }));
  const r = await runCli(['check-config', '--online', 'config.json'], dir);
  t.equal(r.code, 1, r.stdout + r.stderr);
  t.match(r.stdout, new RegExp(`^fail  broker: mqtt://127\\.0\\.0\\.1:${port} \\(mqtt\\.broker\\) is unreachable: connection refused \\(ECONNREFUSED\\)`, 'm'));
  t.match(r.stdout, /1 check failed\n$/);
});

t.test('a broker that wants a password', async (t) => {
  const brokerDir = testdir(t, {});
  const pwfile = join(brokerDir, 'passwords');
  execFileSync('mosquitto_passwd', ['-b', '-c', pwfile, 'alice', 's3cret-pw']);
  const broker: Mosquitto = await startMosquitto(brokerDir, { extraConfig: `allow_anonymous false\npassword_file ${pwfile}` });
  t.teardown(() => broker.stop());

  await t.test('the wrong password: refused in words, exit 1, the password not printed', async (t) => {
    const dir = await setup(t, (c) => (c.mqtt = { broker: `127.0.0.1:${broker.port}`, username: 'alice', password: 'wrong-pw' }));
    const r = await runCli(['check-config', '--online', 'config.json'], dir);
    t.equal(r.code, 1, r.stdout + r.stderr);
    // mosquitto answers a 3.1.1 client 5 (not authorized) for a wrong password; other brokers 4.
    t.match(
      r.stdout,
      /^fail  broker: mqtt:\/\/127\.0\.0\.1:\d+ \(mqtt\.broker\) refused the connection as user "alice": (bad user name or password \(CONNACK code 4\)|not authorized \(CONNACK code 5\))/m,
    );
    t.notMatch(r.stdout + r.stderr, /wrong-pw/);
  });

  await t.test('no credentials at all: refused, and told to set them', async (t) => {
    const dir = await setup(t, (c) => (c.mqtt = { broker: `127.0.0.1:${broker.port}` }));
    const r = await runCli(['check-config', '--online', 'config.json'], dir);
    t.equal(r.code, 1);
    t.match(r.stdout, /^fail  broker: .*refused the connection without a user name: not authorized.*set mqtt\.username and mqtt\.password/m);
  });

  await t.test('the right password: accepted under a client id of its own, exit 0', async (t) => {
    const dir = await setup(t, (c) => (c.mqtt = { broker: `127.0.0.1:${broker.port}`, username: 'alice', password: 's3cret-pw', client_id: 'fleet-prod' }));
    const r = await runCli(['check-config', '--online', 'config.json'], dir);
    t.equal(r.code, 0, r.stdout + r.stderr);
    t.match(r.stdout, /^ok    broker: mqtt:\/\/127\.0\.0\.1:\d+ \(mqtt\.broker\) accepted the connection as user "alice" \(client id fleet-prod-check\)$/m);
    t.notMatch(r.stdout + r.stderr, /s3cret-pw/);
    t.match(r.stdout, /all checks passed\n$/);
  });
});

t.test('check-config --help names --online', async (t) => {
  const r = await runCli(['check-config', '--help'], ROOT);
  t.equal(r.code, 0);
  t.match(r.stdout, /^usage: fleet-telemetry check-config .*\[--online\]$/m);
  t.match(r.stdout, /^ {2}--online {9}also what serve meets on this machine/m);
});

t.test('a TLS broker: an untrusted certificate fails as a TLS handshake failure; with mqtt.tls.ca_file it is accepted', async (t) => {
  const dir = testdir(t, {});
  bases.set(t, dir);
  writeFileSync(join(dir, 'broker.pem'), leaf.certPem);
  writeFileSync(join(dir, 'broker.key'), leaf.keyPem);
  const tlsBroker = await startMosquitto(dir, { extraConfig: `certfile ${join(dir, 'broker.pem')}\nkeyfile ${join(dir, 'broker.key')}` });
  t.teardown(() => tlsBroker.stop());
  const url = `mqtts://127.0.0.1:${tlsBroker.port}`;

  const untrusted = await setup(t, (c) => (c.mqtt = { broker: url }));
  const r = await runCli(['check-config', '--online', 'config.json'], untrusted);
  t.equal(r.code, 1, r.stdout + r.stderr);
  t.match(r.stdout, /^fail  broker: mqtts:\/\/127\.0\.0\.1:\d+ \(mqtt\.broker\) is unreachable: TLS handshake failed: .*set mqtt\.tls\.ca_file/m);

  const trusted = await setup(t, (c) => (c.mqtt = { broker: url, tls: { ca_file: 'ca.pem' } }));
  const r2 = await runCli(['check-config', '--online', 'config.json'], trusted);
  t.equal(r2.code, 0, r2.stdout + r2.stderr);
  t.match(r2.stdout, /^ok    mqtt\.tls: ca_file ca\.pem \(.*\/ca\.pem\) is readable$/m);
  t.match(r2.stdout, /^ok    broker: mqtts:\/\/127\.0\.0\.1:\d+ \(mqtt\.broker\) accepted the connection without a user name/m);
});
