import t from 'tap';
import tls from 'node:tls';
import type net from 'node:net';
import { X509Certificate } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createCa, issueCert, loadCa, writeDevCerts, type KeyPairPem } from '../src/tls/dev-certs.js';

const execFileP = promisify(execFile);
const VIN = '5YJ3E1EA7KF000001';
const DAY = 24 * 60 * 60 * 1000;

interface HandshakeResult {
  /** The server accepted the client and its greeting arrived. */
  greeted: boolean;
  /** CN of the client certificate as seen by the server, if it got that far. */
  peerCN?: string;
  serverAuthorized?: boolean;
  /** Why the server's verification failed; only observable with rejectUnauthorized false. */
  authorizationError?: string;
  /** The server's tlsClientError (a refused client surfaces here as a hang-up). */
  serverTlsError?: NodeJS.ErrnoException;
  clientError?: NodeJS.ErrnoException;
}

/**
 * One mTLS connection to a fresh server on 127.0.0.1:0. A refused client cert shows up
 * as the server never emitting secureConnection (with TLS 1.3 the client may finish
 * its side first), so success is judged by the server's greeting reaching the client.
 */
async function handshake(
  serverOpts: { cert: string; key: string; ca: string },
  clientOpts: { cert: string; key: string; ca: string },
  rejectUnauthorized = true,
): Promise<HandshakeResult> {
  const res: HandshakeResult = { greeted: false };
  const open = new Set<net.Socket>();
  const server = tls.createServer({ ...serverOpts, requestCert: true, rejectUnauthorized, minVersion: 'TLSv1.2' }, (sock) => {
    const peer = sock.getPeerCertificate();
    res.peerCN = typeof peer.subject?.CN === 'string' ? peer.subject.CN : undefined;
    res.serverAuthorized = sock.authorized;
    res.authorizationError = sock.authorizationError?.toString();
    sock.end('ok');
  });
  server.on('connection', (s: net.Socket) => {
    open.add(s);
    s.on('close', () => open.delete(s));
  });
  server.on('tlsClientError', (err) => (res.serverTlsError = err));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  try {
    await new Promise<void>((resolve) => {
      let data = '';
      const c = tls.connect({ host: '127.0.0.1', port, ...clientOpts });
      c.setEncoding('utf8');
      c.on('data', (d: string) => (data += d));
      c.on('error', (err) => (res.clientError = err));
      c.on('close', () => {
        res.greeted = data === 'ok';
        resolve();
      });
      c.setTimeout(5000, () => c.destroy(new Error('timeout')));
    });
  } finally {
    for (const s of open) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  return res;
}

const tlsPair = (kp: KeyPairPem, ca: KeyPairPem, chain = '') => ({
  cert: kp.certPem + chain,
  key: kp.keyPem,
  ca: ca.certPem,
});

t.test('certificate contents', async (t) => {
  const ca = await createCa({ commonName: 'test CA' });
  const server = await issueCert(ca, {
    commonName: 'localhost',
    kind: 'server',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1', '::1'],
  });
  const client = await issueCert(ca, { commonName: VIN, kind: 'client' });
  const caX = new X509Certificate(ca.certPem);
  const sX = new X509Certificate(server.certPem);
  const cX = new X509Certificate(client.certPem);
  t.equal(caX.ca, true, 'CA flag set');
  t.ok(caX.verify(caX.publicKey), 'root is self-signed');
  t.equal(sX.ca, false, 'leaf is not a CA');
  t.ok(sX.checkIssued(caX) && sX.verify(caX.publicKey), 'server cert issued by CA');
  t.ok(cX.checkIssued(caX) && cX.verify(caX.publicKey), 'client cert issued by CA');
  t.same(sX.keyUsage, ['1.3.6.1.5.5.7.3.1'], 'server EKU serverAuth');
  t.same(cX.keyUsage, ['1.3.6.1.5.5.7.3.2'], 'client EKU clientAuth');
  t.match(sX.subjectAltName, /DNS:localhost/);
  t.match(sX.subjectAltName, /IP Address:127\.0\.0\.1/);
  t.match(sX.subjectAltName, /IP Address:0:0:0:0:0:0:0:1/);
  t.equal(cX.subject, `CN=${VIN}`, 'client CN is the VIN');
  t.ok(/^[0-7]/.test(cX.serialNumber), 'serial is positive');
  t.not(sX.serialNumber, cX.serialNumber, 'serials differ');
  t.match(client.keyPem, /^-----BEGIN PRIVATE KEY-----/, 'PKCS#8 key');
  t.equal(sX.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1', 'P-256 key');
  const validDays = (Date.parse(cX.validTo) - Date.parse(cX.validFrom)) / DAY;
  t.ok(Math.abs(validDays - 825) < 1, `leaf valid 825 days (${validDays})`);
  t.ok(Date.parse(cX.validFrom) < Date.now() - 60_000, 'notBefore back-dated for clock skew');
});

t.test('server accepts a VIN client cert from the dev CA', async (t) => {
  const ca = await createCa();
  const server = await issueCert(ca, { commonName: 'localhost', kind: 'server', ipAddresses: ['127.0.0.1'] });
  const client = await issueCert(ca, { commonName: VIN, kind: 'client' });
  const r = await handshake(tlsPair(server, ca), tlsPair(client, ca));
  t.equal(r.clientError, undefined, 'no client error');
  t.equal(r.greeted, true, 'handshake completed');
  t.equal(r.serverAuthorized, true, 'server authorized the client');
  t.equal(r.peerCN, VIN, 'server sees the VIN as CN');
});

t.test('client cert from another CA is refused', async (t) => {
  const ca = await createCa();
  const other = await createCa({ commonName: 'someone else' });
  const server = await issueCert(ca, { commonName: 'localhost', kind: 'server', ipAddresses: ['127.0.0.1'] });
  const rogue = await issueCert(other, { commonName: VIN, kind: 'client' });
  const r = await handshake(tlsPair(server, ca), { ...tlsPair(rogue, other), ca: ca.certPem });
  t.equal(r.greeted, false, 'server did not accept the connection');
  t.equal(r.peerCN, undefined, 'server never handed the socket to the app');
  t.ok(r.serverTlsError, `server reported a handshake error (${r.serverTlsError?.code})`);
  // Same handshake, but let it through to see the verifier's reason.
  const why = await handshake(tlsPair(server, ca), { ...tlsPair(rogue, other), ca: ca.certPem }, false);
  t.equal(why.authorizationError, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'refused for an unknown issuer');
});

t.test('intermediate CA chain', async (t) => {
  const root = await createCa({ commonName: 'root' });
  const inter = await createCa({ commonName: 'intermediate', issuer: root, days: 365 });
  const interX = new X509Certificate(inter.certPem);
  t.equal(interX.ca, true, 'intermediate is a CA');
  t.ok(interX.checkIssued(new X509Certificate(root.certPem)), 'intermediate issued by root');

  const server = await issueCert(inter, { commonName: 'localhost', kind: 'server', ipAddresses: ['127.0.0.1'] });
  const client = await issueCert(inter, { commonName: VIN, kind: 'client' });
  const r = await handshake(tlsPair(server, root, inter.certPem), tlsPair(client, root, inter.certPem));
  t.equal(r.clientError, undefined, 'no client error');
  t.equal(r.greeted, true, 'root-only trust works when chains are sent');
  t.equal(r.peerCN, VIN, 'server sees the VIN through the chain');

  const broken = await handshake(tlsPair(server, root), tlsPair(client, root, inter.certPem));
  t.equal(broken.greeted, false, 'without the intermediate the client rejects the server');
  t.equal(broken.clientError?.code, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'client names the missing issuer');
});

t.test('expired client cert is refused', async (t) => {
  const ca = await createCa();
  const server = await issueCert(ca, { commonName: 'localhost', kind: 'server', ipAddresses: ['127.0.0.1'] });
  const expired = await issueCert(ca, {
    commonName: VIN,
    kind: 'client',
    notBefore: new Date(Date.now() - 10 * DAY),
    notAfter: new Date(Date.now() - DAY),
  });
  t.ok(Date.parse(new X509Certificate(expired.certPem).validTo) < Date.now(), 'cert is in the past');
  const r = await handshake(tlsPair(server, ca), tlsPair(expired, ca));
  t.equal(r.greeted, false, 'server did not accept the connection');
  t.equal(r.peerCN, undefined, 'server never handed the socket to the app');
  t.ok(r.serverTlsError, `server reported a handshake error (${r.serverTlsError?.code})`);
  const why = await handshake(tlsPair(server, ca), tlsPair(expired, ca), false);
  t.equal(why.authorizationError, 'CERT_HAS_EXPIRED', 'refused because it expired');
});

t.test('writeDevCerts writes, then reuses the CA', async (t) => {
  const dir = t.testdir();
  const first = await writeDevCerts(dir, ['VINA']);
  const files = [first.caCert, first.caKey, first.serverCert, first.serverKey, first.vehicles.VINA.cert, first.vehicles.VINA.key];
  for (const f of files) t.ok(existsSync(f), `${path.basename(f)} exists`);
  t.equal(first.caCert, path.join(dir, 'ca.pem'));
  t.equal(first.vehicles.VINA.cert, path.join(dir, 'vehicles', 'VINA.pem'));
  for (const k of [first.caKey, first.serverKey, first.vehicles.VINA.key]) {
    t.equal(statSync(k).mode & 0o777, 0o600, `${path.basename(k)} mode 0600`);
  }
  t.ok(
    first.files.every((f) => f.action === 'written'),
    'all written on first run',
  );

  const caPem = readFileSync(first.caCert, 'utf8');
  const serverPem = readFileSync(first.serverCert, 'utf8');
  const vinAPem = readFileSync(first.vehicles.VINA.cert, 'utf8');
  const second = await writeDevCerts(dir, ['VINA', 'VINB']);
  t.equal(readFileSync(second.caCert, 'utf8'), caPem, 'ca.pem unchanged');
  t.equal(readFileSync(second.serverCert, 'utf8'), serverPem, 'server.pem kept');
  t.equal(readFileSync(second.vehicles.VINA.cert, 'utf8'), vinAPem, 'existing vehicle kept');
  t.ok(existsSync(second.vehicles.VINB.cert) && existsSync(second.vehicles.VINB.key), 'new VIN added');
  t.equal(statSync(second.vehicles.VINB.key).mode & 0o777, 0o600, 'new key mode 0600');
  const vinB = new X509Certificate(readFileSync(second.vehicles.VINB.cert));
  t.ok(vinB.checkIssued(new X509Certificate(caPem)), 'new VIN signed by the same CA');
  t.equal(vinB.subject, 'CN=VINB', 'new VIN CN');
  t.same(
    second.files.filter((f) => f.action === 'written').map((f) => path.basename(f.path)),
    ['VINB.pem', 'VINB.key'],
    'only the new VIN was written',
  );

  const loaded = await loadCa(dir);
  t.equal(loaded?.certPem, caPem, 'loadCa reads the CA');
  t.equal(await loadCa(path.join(dir, 'nope')), undefined, 'loadCa: missing dir');

  // Files on disk must work for a real handshake.
  const ca = { certPem: caPem, keyPem: readFileSync(second.caKey, 'utf8') };
  const r = await handshake(
    { cert: serverPem, key: readFileSync(second.serverKey, 'utf8'), ca: ca.certPem },
    { cert: vinB.toString(), key: readFileSync(second.vehicles.VINB.key, 'utf8'), ca: ca.certPem },
  );
  t.equal(r.peerCN, 'VINB', 'files from disk complete an mTLS handshake');

  const forced = await writeDevCerts(dir, ['VINA'], { force: true });
  t.not(readFileSync(forced.caCert, 'utf8'), caPem, 'force replaces the CA');
  t.not(readFileSync(forced.serverCert, 'utf8'), serverPem, 'force re-issues the server cert');

  await t.rejects(writeDevCerts(dir, ['../escape']), /invalid VIN/, 'path-like VIN refused');
});

t.test('CLI: fleet-telemetry certs', async (t) => {
  const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
  t.ok(existsSync(cli), 'dist/cli.js is built (npx tsc -p tsconfig.json)');
  const dir = path.join(t.testdir(), 'out');
  const { stdout } = await execFileP(process.execPath, [cli, 'certs', '--out', dir, '--vin', 'A', '--vin', 'B']);
  t.pass('exit code 0');
  for (const f of ['ca.pem', 'ca.key', 'server.pem', 'server.key', 'vehicles/A.pem', 'vehicles/A.key', 'vehicles/B.pem', 'vehicles/B.key']) {
    t.ok(existsSync(path.join(dir, f)), `${f} exists`);
  }
  t.equal(stdout.split('\n').filter((l) => /^(wrote|kept )/.test(l)).length, 8, 'one line per file');
  t.match(stdout, /^wrote .*ca\.pem$/m);
  t.match(
    stdout,
    /\n\n\S*server\.pem is a development server certificate for localhost, 127\.0\.0\.1 and ::1 \(what make run uses\); for a host vehicles reach, add --hostname NAME\.\n$/,
    'says what the server certificate it wrote is for',
  );

  const again = await execFileP(process.execPath, [cli, 'certs', '--out', dir, '--vin', 'C']);
  t.match(again.stdout, /^kept {2}.*ca\.pem$/m, 'second run keeps the CA');
  t.match(again.stdout, /^wrote .*C\.pem$/m, 'second run adds the VIN');
  t.notMatch(again.stdout, /development server certificate/, 'a server certificate kept is not announced again');

  const bad = await execFileP(process.execPath, [cli, 'certs', '--out', dir, '--vin', '../x']).then(
    () => 0,
    (err: { code?: number }) => err.code,
  );
  t.equal(bad, 2, 'invalid VIN is a usage error');
});

t.test('the CAs of `certs --out` and `certs --hostname` never share a subject', async (t) => {
  const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
  const base = t.testdir();
  await execFileP(process.execPath, [cli, 'certs', '--out', path.join(base, 'dev')]);
  await execFileP(process.execPath, [cli, 'certs', '--hostname', 'car.example.com', '--out', path.join(base, 'named')]);
  await execFileP(process.execPath, [cli, 'certs', '--hostname', 'car.example.com', '--out', path.join(base, 'named2')]);
  const subject = (dir: string) => new X509Certificate(readFileSync(path.join(base, dir, 'ca.pem'))).subject;
  t.match(subject('dev'), /^CN=fleet-telemetry localhost dev CA [0-9a-f]{8}$/, "make run's CA says what it is for");
  t.match(subject('named'), /^CN=fleet-telemetry car\.example\.com server CA [0-9a-f]{8}$/, 'the named one names its host');
  t.not(subject('named'), subject('named2'), 'two CAs for the same name differ too');
  t.not(subject('dev'), subject('named'));
  const long = new X509Certificate((await createCa({ commonName: undefined })).certPem).subject;
  t.match(long, /^CN=fleet-telemetry dev CA [0-9a-f]{8}$/, 'createCa without a name: a distinct one as well');
});
