import t, { type Test } from 'tap';
import { createPrivateKey } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { parseConfig } from '../src/config/load.js';
import { checkAtStart, checkTls, type CheckLine } from '../src/tls/check.js';
import { createCa, issueCert, type KeyPairPem } from '../src/tls/dev-certs.js';

/**
 * t.testdir, named per process: another run of the suite in this checkout (engineers test in
 * parallel) uses the same .tap/fixtures names and would delete this run's files.
 */
function testdir(t: Test, content?: Parameters<Test['testdir']>[0]): string {
  if (!t.testdirName.endsWith(`-${process.pid}`)) t.testdirName = `${t.testdirName}-${process.pid}`;
  return t.testdir(content);
}

const DAY = 24 * 60 * 60 * 1000;

interface Pki {
  root: KeyPairPem;
  int: KeyPairPem;
  leaf: KeyPairPem;
  leafFromInt: KeyPairPem;
  other: KeyPairPem;
}

let pki: Pki;

t.before(async () => {
  const root = await createCa({ commonName: 'Test Root' });
  const int = await createCa({ commonName: 'Test Intermediate', issuer: root });
  const server = { commonName: 'localhost', kind: 'server' as const, dnsNames: ['localhost', 'telemetry.example.com'], ipAddresses: ['127.0.0.1'] };
  pki = {
    root,
    int,
    leaf: await issueCert(root, server),
    leafFromInt: await issueCert(int, server),
    other: await issueCert(root, { ...server, commonName: 'other' }),
  };
});

/** Writes the files into a fresh directory and runs the checks on a config naming them. */
function run(
  t: Test,
  files: { cert: string; key: string; ca?: string },
  opts: { tls?: Record<string, unknown>; top?: Record<string, unknown>; hostnames?: string[]; now?: Date } = {},
): CheckLine[] {
  const dir = testdir(t, { 'server.pem': files.cert, 'server.key': files.key, ...(files.ca !== undefined ? { 'ca.pem': files.ca } : {}) });
  const tls = { server_cert: 'server.pem', server_key: 'server.key', ...(files.ca !== undefined ? { ca_file: 'ca.pem' } : {}), ...opts.tls };
  const config = parseConfig(JSON.stringify({ ...opts.top, tls, records: { V: ['mqtt'] } }), join(dir, 'config.json'), {});
  return checkTls(config, { hostnames: opts.hostnames, now: opts.now });
}

const fails = (lines: CheckLine[]) => lines.filter((l) => l.status === 'fail');
const warns = (lines: CheckLine[]) => lines.filter((l) => l.status === 'warn');
const line = (lines: CheckLine[], check: string, status?: string) => lines.find((l) => l.check === check && (!status || l.status === status));

t.test('a good setup: every line ok', async (t) => {
  const lines = run(t, { cert: pki.leaf.certPem, key: pki.leaf.keyPem, ca: pki.root.certPem });
  t.same(fails(lines), []);
  t.same(warns(lines), []);
  t.match(line(lines, 'server_key')?.message, /matches the server certificate/);
  t.match(
    line(lines, 'chain')?.message,
    /complete: "localhost" issued by "Test Root" \(in ca_file: "Test Root" \(SHA-256 ([0-9A-F]{2}:){7}[0-9A-F]{2}, from [^)]*ca\.pem\)\)/,
  );
  t.match(line(lines, 'names')?.message, /DNS:localhost, DNS:telemetry\.example\.com, IP:127\.0\.0\.1/);
  t.match(line(lines, 'ca_file')?.message, /1 CA certificate \("Test Root" \(SHA-256 [0-9A-F:]{23}\)\)/, 'the CA by name and fingerprint');
  t.match(line(lines, 'tesla_ca', 'ok')?.message, /Tesla's production vehicle CA bundle/);
  t.match(line(lines, 'expiry', 'ok')?.message, /the server certificate "localhost" valid until/);
});

t.test('a key that does not match the certificate fails', async (t) => {
  const lines = run(t, { cert: pki.leaf.certPem, key: pki.other.keyPem, ca: pki.root.certPem });
  const f = fails(lines);
  t.equal(f.length, 1);
  t.equal(f[0].check, 'server_key');
  t.match(f[0].message, /does not match the server certificate "localhost"/);
});

t.test('a key that matches a later certificate says the order is wrong', async (t) => {
  const lines = run(t, { cert: pki.other.certPem + pki.leaf.certPem, key: pki.leaf.keyPem, ca: pki.root.certPem });
  t.match(line(lines, 'server_key', 'fail')?.message, /belongs to certificate #2 "localhost".*must come first/);
});

t.test('a missing intermediate is named', async (t) => {
  const lines = run(t, { cert: pki.leafFromInt.certPem, key: pki.leafFromInt.keyPem, ca: pki.root.certPem });
  const f = fails(lines);
  t.equal(f.length, 1);
  t.equal(f[0].check, 'chain');
  t.match(f[0].message, /missing intermediate "Test Intermediate"/);
  t.match(f[0].message, /append it to server\.pem/);
});

t.test('with the intermediate sent, the chain is complete', async (t) => {
  const lines = run(t, { cert: pki.leafFromInt.certPem + pki.int.certPem, key: pki.leafFromInt.keyPem, ca: pki.root.certPem });
  t.same(fails(lines), []);
  t.same(warns(lines), []);
  t.match(
    line(lines, 'chain')?.message,
    /complete: "localhost" issued by "Test Intermediate" issued by "Test Root" \(in ca_file: "Test Root" \(SHA-256 [0-9A-F:]{23}, from [^)]*\)\)/,
  );
  t.equal(lines.filter((l) => l.check === 'expiry').length, 2, 'leaf and intermediate are both checked');
});

t.test('intermediate sent and root not: fine, vehicles hold the root', async (t) => {
  const lines = run(t, { cert: pki.leafFromInt.certPem + pki.int.certPem, key: pki.leafFromInt.keyPem });
  t.same(fails(lines), []);
  t.match(line(lines, 'chain', 'ok')?.message, /issued by "Test Root", which is not sent/);
});

t.test('root included in server_cert', async (t) => {
  const lines = run(t, { cert: pki.leafFromInt.certPem + pki.int.certPem + pki.root.certPem, key: pki.leafFromInt.keyPem });
  t.same(fails(lines), []);
  t.match(line(lines, 'chain', 'ok')?.message, /root included/);
});

t.test('only the leaf and no ca_file: cannot tell a root from an intermediate, so a warning', async (t) => {
  const lines = run(t, { cert: pki.leafFromInt.certPem, key: pki.leafFromInt.keyPem });
  t.same(fails(lines), []);
  t.match(line(lines, 'chain', 'warn')?.message, /cannot confirm the chain: the issuer "Test Intermediate"/);
});

t.test('a chain out of order, and a certificate that is not part of it', async (t) => {
  const stray = await createCa({ commonName: 'Stray CA' });
  const lines = run(t, { cert: pki.leafFromInt.certPem + pki.root.certPem + pki.int.certPem + stray.certPem, key: pki.leafFromInt.keyPem });
  t.same(fails(lines), []);
  t.match(
    warns(lines).map((l) => l.message),
    [/certificate #4 "Stray CA" .* is not part of/, /out of order/],
  );
});

t.test('a self-signed server certificate', async (t) => {
  const self = await createCa({ commonName: 'selfie' });
  const lines = run(t, { cert: self.certPem, key: self.keyPem });
  t.match(line(lines, 'chain', 'ok')?.message, /self-signed/);
  t.match(line(lines, 'usage', 'warn')?.message, /is a CA certificate/);
});

t.test('an expired server certificate fails', async (t) => {
  const expired = await issueCert(pki.root, {
    commonName: 'localhost',
    kind: 'server',
    dnsNames: ['localhost'],
    notBefore: new Date(Date.now() - 400 * DAY),
    notAfter: new Date(Date.now() - DAY),
  });
  const lines = run(t, { cert: expired.certPem, key: expired.keyPem, ca: pki.root.certPem });
  const f = fails(lines);
  t.equal(f.length, 1);
  t.equal(f[0].check, 'expiry');
  t.match(f[0].message, /the server certificate "localhost" expired on \d{4}-\d\d-\d\d/);
});

t.test('a server certificate expiring within 30 days warns', async (t) => {
  const soon = await issueCert(pki.root, { commonName: 'localhost', kind: 'server', dnsNames: ['localhost'], days: 10 });
  const lines = run(t, { cert: soon.certPem, key: soon.keyPem, ca: pki.root.certPem });
  t.same(fails(lines), []);
  t.match(line(lines, 'expiry', 'warn')?.message, /expires on .* in (9|10) days; renew it/);
});

t.test('a certificate not valid yet fails', async (t) => {
  const later = await issueCert(pki.root, {
    commonName: 'localhost',
    kind: 'server',
    dnsNames: ['localhost'],
    notBefore: new Date(Date.now() + 2 * DAY),
    days: 100,
  });
  const lines = run(t, { cert: later.certPem, key: later.keyPem, ca: pki.root.certPem });
  t.match(line(lines, 'expiry', 'fail')?.message, /is not valid before/);
});

t.test('an expired intermediate fails', async (t) => {
  const oldInt = await createCa({
    commonName: 'Old Intermediate',
    issuer: pki.root,
    notBefore: new Date(Date.now() - 400 * DAY),
    notAfter: new Date(Date.now() - DAY),
  });
  const leaf = await issueCert(oldInt, {
    commonName: 'localhost',
    kind: 'server',
    dnsNames: ['localhost'],
    notBefore: new Date(Date.now() - 10 * DAY),
    days: 100,
  });
  const lines = run(t, { cert: leaf.certPem + oldInt.certPem, key: leaf.keyPem, ca: pki.root.certPem });
  t.match(line(lines, 'expiry', 'fail')?.message, /chain certificate "Old Intermediate" expired on/);
});

t.test('ca_file: only CA certificates, not expired, parseable', async (t) => {
  await t.test('a client certificate in ca_file fails', async (t) => {
    const client = await issueCert(pki.root, { commonName: '5YJ3E1EA7KF000001', kind: 'client' });
    const lines = run(t, { cert: pki.leaf.certPem, key: pki.leaf.keyPem, ca: pki.root.certPem + client.certPem });
    t.match(line(lines, 'ca_file', 'fail')?.message, /certificate #2 "5YJ3E1EA7KF000001" is not a CA certificate/);
  });
  await t.test('an expired CA in ca_file fails', async (t) => {
    const old = await createCa({ commonName: 'Old CA', notBefore: new Date(Date.now() - 400 * DAY), notAfter: new Date(Date.now() - DAY) });
    const lines = run(t, { cert: pki.leaf.certPem, key: pki.leaf.keyPem, ca: pki.root.certPem + old.certPem });
    t.match(line(lines, 'ca_file', 'fail')?.message, /CA certificate #2 "Old CA" expired on/);
  });
  await t.test('a CA expiring soon warns', async (t) => {
    const soon = await createCa({ commonName: 'Soon CA', days: 5 });
    const lines = run(t, { cert: pki.leaf.certPem, key: pki.leaf.keyPem, ca: pki.root.certPem + soon.certPem });
    t.same(fails(lines), []);
    t.match(line(lines, 'ca_file', 'warn')?.message, /"Soon CA" expires on/);
  });
  await t.test('a file with no certificate fails', async (t) => {
    const lines = run(t, { cert: pki.leaf.certPem, key: pki.leaf.keyPem, ca: 'not a certificate\n' });
    t.match(line(lines, 'ca_file', 'fail')?.message, /ca\.pem: holds no PEM certificate/);
  });
  await t.test('a broken PEM block fails', async (t) => {
    const broken = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
    const lines = run(t, { cert: pki.leaf.certPem, key: pki.leaf.keyPem, ca: pki.root.certPem + broken });
    t.match(line(lines, 'ca_file', 'fail')?.message, /certificate #2 does not parse/);
  });
  await t.test('a missing file fails', async (t) => {
    const lines = run(t, { cert: pki.leaf.certPem, key: pki.leaf.keyPem }, { tls: { ca_file: 'nowhere.pem' } });
    t.match(line(lines, 'ca_file', 'fail')?.message, /nowhere\.pem: cannot read: no such file/);
  });
});

t.test('server files that are missing, swapped or encrypted', async (t) => {
  await t.test('no certificate file', async (t) => {
    const lines = run(t, { cert: '', key: pki.leaf.keyPem }, { tls: { server_cert: 'missing.pem' } });
    t.match(line(lines, 'server_cert', 'fail')?.message, /missing\.pem: cannot read: no such file/);
  });
  await t.test('cert and key swapped', async (t) => {
    const lines = run(t, { cert: pki.leaf.keyPem, key: pki.leaf.certPem });
    t.match(line(lines, 'server_cert', 'fail')?.message, /are cert and key swapped/);
    t.match(line(lines, 'server_key', 'fail')?.message, /are cert and key swapped/);
  });
  await t.test('an encrypted key', async (t) => {
    const encrypted = createPrivateKey(pki.leaf.keyPem).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' }) as string;
    const lines = run(t, { cert: pki.leaf.certPem, key: encrypted });
    t.match(line(lines, 'server_key', 'fail')?.message, /encrypted/);
  });
});

t.test('names the server certificate covers', async (t) => {
  const lines = run(
    t,
    { cert: pki.leaf.certPem, key: pki.leaf.keyPem, ca: pki.root.certPem },
    { hostnames: ['telemetry.example.com', '127.0.0.1', 'other.example.com'] },
  );
  const host = lines.filter((l) => l.check === 'hostname');
  t.match(host, [
    { status: 'ok', message: /telemetry\.example\.com is covered/ },
    { status: 'ok', message: /127\.0\.0\.1 is covered/ },
    { status: 'fail', message: /other\.example\.com is not covered by the server certificate \(it covers DNS:localhost/ },
  ]);
  const bare = await issueCert(pki.root, { commonName: 'bare', kind: 'server' });
  t.match(line(run(t, { cert: bare.certPem, key: bare.keyPem, ca: pki.root.certPem }), 'names', 'warn')?.message, /no subjectAltName/);
  const client = await issueCert(pki.root, { commonName: 'localhost', kind: 'client', dnsNames: ['localhost'] });
  t.match(line(run(t, { cert: client.certPem, key: client.keyPem, ca: pki.root.certPem }), 'usage', 'warn')?.message, /not for TLS server authentication/);
});

t.test("Tesla's bundle is informational; its expired CA is no failure", async (t) => {
  const lines = run(t, { cert: pki.leaf.certPem, key: pki.leaf.keyPem });
  const tesla = line(lines, 'tesla_ca');
  t.equal(tesla?.status, 'ok');
  t.same(fails(lines), []);
  // One CA of the production bundle expired on 2025-05-06.
  t.match(tesla?.message, /"Tesla Issuing CA" expired on 2025-05-06 and stays in the pool/);
  const eng = run(t, { cert: pki.leaf.certPem, key: pki.leaf.keyPem }, { top: { use_default_eng_ca: true } });
  t.match(line(eng, 'tesla_ca'), { status: 'ok', message: /Tesla's engineering vehicle CA bundle/ });
  const off = run(t, { cert: pki.leaf.certPem, key: pki.leaf.keyPem, ca: pki.root.certPem }, { tls: { trust_tesla_ca: false } });
  t.match(line(off, 'tesla_ca')?.message, /not trusted/);
});

t.test('checkAtStart logs warnings and returns the failing lines', async (t) => {
  const dir = testdir(t, { 'server.pem': pki.leafFromInt.certPem, 'server.key': pki.other.keyPem });
  writeFileSync(join(dir, 'config.json'), '');
  const config = parseConfig(
    JSON.stringify({ tls: { server_cert: 'server.pem', server_key: 'server.key' }, records: { V: ['mqtt'] }, producers: { unused: { module: './u.js' } } }),
    join(dir, 'config.json'),
    {},
  );
  const warned: string[] = [];
  const logger = { warn: (_o: unknown, msg: string) => void warned.push(msg) } as unknown as Logger;
  const failing = checkAtStart(config, logger);
  t.match(failing, [/^fail  server_key: server\.key does not match/]);
  t.match(warned, [/producers\.unused is declared/, /cannot confirm the chain/]);
});
