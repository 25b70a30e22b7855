import t from 'tap';
import type { Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { runCli, STACK, testdir } from './helpers/cli.js';
import { startServer } from './helpers/server.js';

// Issue #30 item 2: the public key page beside the vehicle listener, and check-config's report.
const PATH = '/.well-known/appspecific/com.tesla.3p.public-key.pem';

t.setTimeout(240_000);

interface Got {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  peerFingerprint?: string;
}

function get(port: number, path: string, ca: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: opts.method ?? 'GET', servername: 'localhost', ca, headers: opts.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        const peer = (res.socket as import('node:tls').TLSSocket).getPeerCertificate();
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), peerFingerprint: peer?.fingerprint256 }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function setup(t: Test) {
  const dir = testdir(t);
  const made = await runCli(['certs', '--hostname', 'localhost', '--out', 'dc'], dir);
  t.equal(made.code, 0, made.stderr);
  const keys = await runCli(['tesla', 'keys', '--out', 'keys'], dir);
  t.equal(keys.code, 0, keys.stderr);
  const tls = {
    server_cert: join(dir, 'dc', 'server-localhost-chain.pem'),
    server_key: join(dir, 'dc', 'server-localhost.key'),
    ca_file: join(dir, 'dc', 'ca.pem'),
  };
  return { dir, tls, ca: readFileSync(tls.ca_file, 'utf8'), publicPem: readFileSync(join(dir, 'keys', 'com.tesla.3p.public-key.pem'), 'utf8') };
}

for (const workers of [1, 2]) {
  t.test(`serve answers the public key on its page, nothing else, no client certificate asked (workers: ${workers})`, async (t) => {
    const { dir, tls, ca, publicPem } = await setup(t);
    const server = await startServer(dir, {
      records: { V: ['logger'] },
      tls,
      workers,
      tesla: { private_key: join(dir, 'keys', 'private-key.pem'), public_key_port: 0 },
    });
    t.teardown(() => server.stop());
    const line = await server.waitForLog((l) => l.event === 'public_key_page_listening');
    const port = line.port as number;
    t.ok(port > 0 && port !== server.port, 'its own port');
    const fp = createHash('sha256')
      .update(execFileSync('openssl', ['pkey', '-pubin', '-in', join(dir, 'keys', 'com.tesla.3p.public-key.pem'), '-outform', 'DER']))
      .digest('hex');
    t.equal(line.fingerprint, fp, 'the log names the fingerprint');

    const ok = await get(port, PATH, ca);
    t.equal(ok.status, 200);
    t.equal(ok.headers['content-type'], 'application/x-pem-file');
    t.equal(ok.body, publicPem, 'the public key file, byte for byte');
    const serverCert = new X509Certificate(readFileSync(tls.server_cert, 'utf8'));
    t.equal(ok.peerFingerprint, serverCert.fingerprint256, "with the vehicle listener's certificate");
    const head = await get(port, PATH, ca, { method: 'HEAD' });
    t.equal(head.status, 200);
    t.equal(head.body, '');
    t.equal((await get(port, `${PATH}?x=1`, ca)).status, 200, 'a query is the same path');
    for (const p of ['/', '/.well-known/appspecific/', `${PATH}x`, '/status', '/../private-key.pem'])
      t.equal((await get(port, p, ca)).status, 404, `404 for ${p}`);
    t.equal((await get(port, PATH, ca, { method: 'POST' })).status, 404, '404 for POST');
    const upgrade = await get(port, PATH, ca, {
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' },
    });
    t.equal(upgrade.status, 404, 'no WebSocket on the page');
    t.notMatch(JSON.stringify(server.logs), readFileSync(join(dir, 'keys', 'private-key.pem'), 'utf8').split('\n')[1], 'the private key is never logged');

    // The vehicle listener is unchanged: no certificate, no handshake.
    const refused = await new Promise<string>((resolve) => {
      const s = tlsConnect({ host: '127.0.0.1', port: server.port, servername: 'localhost', ca }, () => {
        s.once('data', () => resolve('data'));
        s.write('GET /status HTTP/1.1\r\nhost: localhost\r\n\r\n');
      });
      s.once('error', (err) => resolve(`error ${(err as NodeJS.ErrnoException).code ?? err.message}`));
      s.once('close', () => resolve('closed'));
    });
    t.match(refused, /^(error|closed)/, `the vehicle port still refuses a client without a certificate (${refused})`);
  });
}

t.test('check-config reports the key, its fingerprint and the page; refuses a key that is not one', async (t) => {
  const { dir, tls } = await setup(t);
  const key = join(dir, 'keys', 'private-key.pem');
  const cfg = (tesla: Record<string, unknown>) => {
    const f = join(dir, `c-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(f, JSON.stringify({ host: '0.0.0.0', port: 4443, records: { V: ['logger'] }, tls, tesla }));
    return f;
  };
  const fp = createHash('sha256')
    .update(execFileSync('openssl', ['pkey', '-in', key, '-pubout', '-outform', 'DER']))
    .digest('hex');
  const r = await runCli(['check-config', cfg({ private_key: key, public_key_port: 8443 })], dir);
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.match(r.stdout, new RegExp(`^ok\\s+tesla_key: .*private-key.pem: P-256 private key, fingerprint ${fp}$`, 'm'));
  t.match(
    r.stdout,
    new RegExp(
      `^ok\\s+public_key_page: https://localhost:8443${PATH.replace(/\./g, '\\.')} serves the public key of tesla.private_key \\(fingerprint ${fp}\\)`,
      'm',
    ),
  );
  t.match(r.stdout, /^warn\s+public_key_page: Tesla fetches .* on port 443: forward 443 to 8443$/m);

  const noPage = await runCli(['check-config', cfg({ private_key: key })], dir);
  t.match(noPage.stdout, /^ok\s+public_key_page: not served here/m);

  chmodSync(key, 0o644);
  const open = await runCli(['check-config', cfg({ private_key: key, public_key_port: 443 })], dir);
  t.match(open.stdout, /^warn\s+tesla_key: .* is readable by others \(mode 0644\): chmod 600 it$/m);
  t.notMatch(open.stdout, /forward 443/, 'no port warning on 443');

  const p384 = join(dir, 'p384.pem');
  execFileSync('openssl', ['ecparam', '-name', 'secp384r1', '-genkey', '-noout', '-out', p384]);
  const bad = await runCli(['check-config', cfg({ private_key: p384, public_key_port: 8443 })], dir);
  t.equal(bad.code, 1);
  t.match(bad.stdout, /^fail\s+tesla_key: .*p384.pem: refused: not a P-256 key \(it is an EC key on secp384r1\).*\[KEY_NOT_P256\]$/m);

  const missing = await runCli(['check-config', cfg({ public_key_port: 8443 })], dir);
  t.equal(missing.code, 2, 'a page without a key is an invalid config');
  t.match(missing.stderr, /tesla\.private_key: required when tesla\.public_key_port is set.*\[private_key_required/);

  const clash = await runCli(['check-config', cfg({ private_key: key, public_key_port: 4443 })], dir);
  t.equal(clash.code, 2);
  t.match(clash.stderr, /tesla\.public_key_port: 4443 is already port/);

  // serve refuses to start on a key that is not one, with the reason, no stack trace.
  const serve = await runCli(['serve', '--config', cfg({ private_key: p384, public_key_port: 0 })], dir, { killAfterMs: 60_000 });
  t.equal(serve.code, 2);
  t.match(serve.stdout + serve.stderr, /tesla\.private_key: .*not a P-256 key/);
  t.notMatch(serve.stderr, STACK);
});
