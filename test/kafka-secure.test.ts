import t, { type Test } from 'tap';
import { createPrivateKey } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, STACK } from './helpers/cli.js';
import { loadConformance } from './helpers/fixtures.js';
import { startKafkaFront, type FrontOptions, type KafkaFront } from './helpers/kafka-front.js';
import { startKafkaMock } from './helpers/kafka-mock.js';
import { API } from './helpers/kafka-wire.js';
import { kcatRead } from './helpers/kcat.js';
import { makePki, type TestPki } from './helpers/pki.js';
import { kafkaSettingsFrom } from '../src/producers/kafka/options.js';
import { issueCert } from '../src/tls/dev-certs.js';
import { deadline, freePort } from './helpers/ports.js';
import { startServer, type ServerProcess } from './helpers/server.js';
import { connectVehicle, vFrame } from './helpers/vehicle.js';

// The kafka producer over TLS and SASL, as Tesla's librdkafka keys set them. No Kafka broker
// installs here and librdkafka's mock cluster speaks plaintext only, so a stand-in front
// (test/helpers/kafka-front.ts) does what a broker's TLS/SASL listener does, before the mock; kcat
// reads what arrived from the mock directly.

t.setTimeout(240_000);
const VIN = loadConformance().vin;
const USER = 'fleet-telemetry';
const PASSWORD = 'right horse battery staple';

/** A folder the processes use until their teardowns ran (tap removes t.testdir() before them). */
function ownDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'ft-kafka-secure-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const mock = await startKafkaMock(3);
t.teardown(() => mock.stop());
// One PKI: its CA signs the vehicles' and the servers' certificates and the front's.
const pkiDir = mkdtempSync(join(tmpdir(), 'ft-kafka-secure-pki-'));
t.teardown(() => rmSync(pkiDir, { recursive: true, force: true }));
const pki = await makePki(pkiDir);
const frontTls = { cert: readFileSync(pki.serverCert, 'utf8'), key: readFileSync(pki.serverKey, 'utf8') };

async function front(t: Test, opts: Omit<FrontOptions, 'upstream'>): Promise<KafkaFront> {
  const f = await startKafkaFront({ upstream: mock.bootstrap, ...opts });
  t.teardown(() => f.stop());
  return f;
}

/** The server's config: V records to kafka with these librdkafka keys. */
async function configFor(namespace: string, kafka: Record<string, unknown>, statusPort?: number): Promise<Record<string, unknown>> {
  return {
    namespace,
    ...(statusPort ? { status_port: statusPort } : {}),
    records: { V: ['kafka'] },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
    kafka: { 'queue.buffering.max.ms': 5, 'retry.backoff.max.ms': 500, ...kafka },
  };
}

async function serve(t: Test, dir: string, config: Record<string, unknown>): Promise<ServerProcess> {
  const server = await startServer(dir, config);
  t.teardown(() => server.stop().catch(() => {}));
  return server;
}

/** Sends `n` V frames from VIN; each must be acked by its txid. Returns the txids. */
async function sendAcked(t: Test, server: ServerProcess, p: TestPki, prefix: string, n: number): Promise<string[]> {
  const vehicle = await connectVehicle(server.port, await p.vehicle(VIN), p.ca.certPem);
  t.teardown(() => vehicle.close());
  const txids = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
  for (const [i, txid] of txids.entries()) vehicle.send(vFrame(txid, VIN, [{ key: 'VehicleSpeed', value: { float_value: i } }]));
  for (const txid of txids) t.equal((await vehicle.response(txid, 30_000)).kind, 'ack', `${txid} acked`);
  await vehicle.close();
  return txids;
}

/** Every record in `<namespace>_V` is keyed by the VIN, and the acked txids are all there, once. */
async function inTopic(t: Test, namespace: string, txids: string[]): Promise<void> {
  const read = await kcatRead(mock.bootstrap, `${namespace}_V`);
  t.same(read.map((m) => m.headers.txid).sort(), [...txids].sort(), `every acked record in ${namespace}_V, once`);
  t.ok(
    read.every((m) => m.key.toString('utf8') === VIN && m.topic === `${namespace}_V`),
    'keyed by the VIN',
  );
}

/** The front authenticated the producer and carried its produce requests. */
function throughFront(t: Test, f: KafkaFront, mechanism?: string): void {
  if (mechanism)
    t.ok(
      f.authenticated.length > 0 && f.authenticated.every((a) => a.mechanism === mechanism && a.user === USER),
      `every connection authenticated by ${mechanism} as ${USER}`,
    );
  t.ok(f.forwarded(API.PRODUCE) > 0, `produce requests went through the front (${f.forwarded(API.PRODUCE)})`);
  t.ok(f.forwarded(API.METADATA) > 0, 'metadata through the front');
  t.same(f.problems, [], 'nothing the front could not read');
  t.same(f.refused, [], 'no connection refused');
}

t.test("sasl_ssl with SCRAM-SHA-512 and ssl.ca.location: V frames acked and in Tesla's topic, keyed by VIN", async (t) => {
  const dir = ownDir(t);
  const f = await front(t, { tls: frontTls, sasl: { mechanisms: ['SCRAM-SHA-512'], users: { [USER]: PASSWORD } } });
  // A path relative to the config file, as in Tesla's configs.
  copyFileSync(pki.caFile, join(dir, 'kafka-ca.pem'));
  const server = await serve(
    t,
    dir,
    await configFor('secure', {
      'bootstrap.servers': f.bootstrap,
      'security.protocol': 'SASL_SSL',
      'sasl.mechanisms': 'SCRAM-SHA-512',
      'sasl.username': USER,
      'sasl.password': PASSWORD,
      'ssl.ca.location': 'kafka-ca.pem',
    }),
  );
  await server.waitForLog((l) => l.event === 'kafka_connected', 30_000);
  const txids = await sendAcked(t, server, pki, 'scram512', 20);
  await inTopic(t, 'secure', txids);
  throughFront(t, f, 'SCRAM-SHA-512');
  t.equal(await server.stop(), 0, 'server exits 0');
});

for (const c of [
  { name: 'ssl only', ns: 'tlsonly', sasl: undefined, kafka: { 'security.protocol': 'ssl' } },
  { name: 'sasl_plaintext with PLAIN', ns: 'plain', sasl: 'PLAIN', kafka: { 'security.protocol': 'sasl_plaintext', 'sasl.mechanism': 'PLAIN' } },
  {
    name: 'sasl_plaintext with SCRAM-SHA-256',
    ns: 'scram256',
    sasl: 'SCRAM-SHA-256',
    kafka: { 'security.protocol': 'sasl_plaintext', 'sasl.mechanisms': 'SCRAM-SHA-256' },
  },
] as const) {
  t.test(`${c.name}: records arrive`, async (t) => {
    const dir = ownDir(t);
    const f = await front(t, {
      tls: c.sasl ? undefined : frontTls,
      sasl: c.sasl ? { mechanisms: [c.sasl], users: { [USER]: PASSWORD } } : undefined,
    });
    const kafka: Record<string, unknown> = { 'bootstrap.servers': f.bootstrap, ...c.kafka };
    if (c.sasl) Object.assign(kafka, { 'sasl.username': USER, 'sasl.password': PASSWORD });
    else kafka['ssl.ca.pem'] = pki.ca.certPem;
    const server = await serve(t, dir, await configFor(c.ns, kafka));
    await server.waitForLog((l) => l.event === 'kafka_connected', 30_000);
    await inTopic(t, c.ns, await sendAcked(t, server, pki, c.ns, 5));
    throughFront(t, f, c.sasl);
  });
}

/** A frame sent now gets no ack: an error answer, or none within a few seconds. */
async function notAcked(t: Test, server: ServerProcess, txid: string): Promise<void> {
  const vehicle = await connectVehicle(server.port, await pki.vehicle(VIN), pki.ca.certPem);
  t.teardown(() => vehicle.close());
  vehicle.send(vFrame(txid, VIN, [{ key: 'VehicleSpeed', value: { float_value: 1 } }]));
  const answer = await Promise.race([vehicle.response(txid, 5000).catch(() => undefined), deadline(6000)]);
  t.not(answer === 'timeout' ? undefined : answer?.kind, 'ack', `${txid} not acked`);
  await vehicle.close();
}

t.test('a wrong SASL password: nothing acked, /readyz 503, the log and check-config --online name the SASL failure', async (t) => {
  const dir = ownDir(t);
  const f = await front(t, { tls: frontTls, sasl: { mechanisms: ['SCRAM-SHA-512'], users: { [USER]: PASSWORD } } });
  const statusPort = await freePort();
  const config = await configFor(
    'wrongpass',
    {
      'bootstrap.servers': f.bootstrap,
      'security.protocol': 'sasl_ssl',
      'sasl.mechanisms': 'SCRAM-SHA-512',
      'sasl.username': USER,
      'sasl.password': 'wrong horse',
      'ssl.ca.location': pki.caFile,
    },
    statusPort,
  );
  const server = await serve(t, dir, config);
  const failed = await server.waitForLog((l) => l.event === 'kafka_connect_failed', 30_000);
  t.match(
    String(failed.err),
    /SASL SCRAM SHA512 authentication failed: Authentication failed during authentication due to invalid credentials/,
    `logged: ${String(failed.err)}`,
  );
  t.match(f.refused[0], /^SCRAM-SHA-512 fleet-telemetry: Authentication failed/, 'the front refused the proof');
  const ready = await fetch(`http://127.0.0.1:${statusPort}/readyz`);
  t.equal(ready.status, 503, `/readyz: ${await ready.text()}`);
  await notAcked(t, server, 'wrongpass-1');
  t.equal(f.forwarded(API.PRODUCE), 0, 'no produce request got past the front');
  t.notOk(
    server.logs.some((l) => l.event === 'kafka_connected'),
    'never connected',
  );

  // The same config, checked online.
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ host: '127.0.0.1', port: await freePort(), ...config, status_port: undefined }, null, 2));
  const check = await runCli(['check-config', '--online', 'config.json'], dir);
  t.equal(check.code, 1, check.stdout + check.stderr);
  t.match(check.stdout, /^fail {2}kafka: \S+ \(kafka\.bootstrap\.servers\) is unreachable: SASL SCRAM SHA512 authentication failed: .*invalid credentials/m);
  t.notMatch(check.stdout + check.stderr, STACK);
  t.same(f.problems, []);
});

t.test('a CA that did not sign the broker certificate: no ack, the log says it is not trusted; without verification it connects', async (t) => {
  const dir = ownDir(t);
  const f = await front(t, { tls: frontTls });
  const other = await makePki(join(dir, 'other'));
  const untrusting = await serve(
    t,
    dir,
    await configFor('untrusted', { 'bootstrap.servers': f.bootstrap, 'security.protocol': 'ssl', 'ssl.ca.location': other.caFile }),
  );
  const failed = await untrusting.waitForLog((l) => l.event === 'kafka_connect_failed', 30_000);
  t.match(
    String(failed.err),
    /^the broker's TLS certificate is not trusted \(.+\): kafka\.ssl\.ca\.location or kafka\.ssl\.ca\.pem must hold the CA that signed it$/,
    `logged: ${String(failed.err)}`,
  );
  await notAcked(t, untrusting, 'untrusted-1');
  t.equal(f.forwarded(API.PRODUCE), 0, 'nothing produced');
  t.equal(await untrusting.stop(), 0);

  const unverified = await serve(
    t,
    dir,
    await configFor('unverified', {
      'bootstrap.servers': f.bootstrap,
      'security.protocol': 'ssl',
      'ssl.ca.location': other.caFile,
      'enable.ssl.certificate.verification': false,
    }),
  );
  await unverified.waitForLog((l) => l.event === 'kafka_connected', 30_000);
  await inTopic(t, 'unverified', await sendAcked(t, unverified, pki, 'unverified', 3));
  t.same(f.problems, []);
});

t.test('a broker certificate for another name: refused by default, taken with ssl.endpoint.identification.algorithm none', async (t) => {
  const dir = ownDir(t);
  // Signed by the trusted CA, but for a name that is not the address connected to (127.0.0.1).
  const elsewhere = await issueCert(pki.ca, { commonName: 'kafka.example', kind: 'server', dnsNames: ['kafka.example'] });
  const f = await front(t, { tls: { cert: elsewhere.certPem, key: elsewhere.keyPem } });
  const kafka = { 'bootstrap.servers': f.bootstrap, 'security.protocol': 'ssl', 'ssl.ca.location': pki.caFile };
  const checking = await serve(t, dir, await configFor('wrongname', kafka));
  const failed = await checking.waitForLog((l) => l.event === 'kafka_connect_failed', 30_000);
  t.match(
    String(failed.err),
    /^the broker's TLS certificate does not name the address connected to \(.+\); kafka\.ssl\.endpoint\.identification\.algorithm none/,
    `logged: ${String(failed.err)}`,
  );
  await notAcked(t, checking, 'wrongname-1');
  t.equal(f.forwarded(API.PRODUCE), 0, 'nothing produced');
  t.equal(await checking.stop(), 0);

  const unchecked = await serve(t, dir, await configFor('anyname', { ...kafka, 'ssl.endpoint.identification.algorithm': 'none' }));
  await unchecked.waitForLog((l) => l.event === 'kafka_connected', 30_000);
  await inTopic(t, 'anyname', await sendAcked(t, unchecked, pki, 'anyname', 3));
  t.same(f.problems, []);
});

t.test('ssl.ca.location as librdkafka reads it: a folder of CA certificates, or probe', async (t) => {
  const dir = ownDir(t);
  const f = await front(t, { tls: frontTls });
  // A folder as OpenSSL's c_rehash leaves it: several CAs, and a file that is no certificate.
  const cas = join(dir, 'cas');
  mkdirSync(cas);
  copyFileSync(pki.caFile, join(cas, 'fleet.pem'));
  writeFileSync(join(cas, 'other.crt'), (await makePki(join(dir, 'other'))).ca.certPem);
  writeFileSync(join(cas, 'README'), 'not a certificate\n');
  const server = await serve(t, dir, await configFor('cafolder', { 'bootstrap.servers': f.bootstrap, 'security.protocol': 'ssl', 'ssl.ca.location': 'cas' }));
  await server.waitForLog((l) => l.event === 'kafka_connected', 30_000);
  await inTopic(t, 'cafolder', await sendAcked(t, server, pki, 'cafolder', 3));
  t.same(f.problems, []);

  const settings = (location: string) =>
    kafkaSettingsFrom({ 'bootstrap.servers': 'b:9092', 'security.protocol': 'ssl', 'ssl.ca.location': location }, (p) => join(dir, p));
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  t.throws(() => settings('empty'), { code: 'kafka_config', message: `kafka.ssl.ca.location: the folder ${empty} holds no PEM certificate` });
  const bundle = '/etc/ssl/certs/ca-certificates.crt';
  const probed = settings('probe').ssl;
  if (existsSync(bundle))
    t.equal(typeof probed === 'object' ? probed.ca : undefined, readFileSync(bundle, 'utf8'), `probe: the distribution's bundle, ${bundle}`);
  else t.equal(probed, true, "probe without a bundle here: Node's own roots");
});

t.test('a client certificate by ssl.certificate.location and an encrypted ssl.key.location with ssl.key.password', async (t) => {
  const dir = ownDir(t);
  const f = await front(t, { tls: { ...frontTls, clientCa: pki.ca.certPem } });
  const client = await issueCert(pki.ca, { commonName: USER, kind: 'client' });
  writeFileSync(join(dir, 'client.pem'), client.certPem);
  const encrypted = createPrivateKey(client.keyPem).export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: PASSWORD });
  writeFileSync(join(dir, 'client.key'), encrypted);
  const base = { 'bootstrap.servers': f.bootstrap, 'security.protocol': 'ssl', 'ssl.ca.location': pki.caFile };

  const anonymous = await serve(t, dir, await configFor('nocert', base));
  await anonymous.waitForLog((l) => l.event === 'kafka_connect_failed', 30_000);
  await notAcked(t, anonymous, 'nocert-1');
  t.equal(f.forwarded(API.PRODUCE), 0, 'without a certificate nothing is produced');
  t.equal(await anonymous.stop(), 0);

  const server = await serve(
    t,
    dir,
    await configFor('clientcert', { ...base, 'ssl.certificate.location': 'client.pem', 'ssl.key.location': 'client.key', 'ssl.key.password': PASSWORD }),
  );
  await server.waitForLog((l) => l.event === 'kafka_connected', 30_000);
  await inTopic(t, 'clientcert', await sendAcked(t, server, pki, 'clientcert', 3));
  t.same(f.problems, []);
});
