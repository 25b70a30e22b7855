import t from 'tap';
import type { Test } from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { createServer, type TlsOptions } from 'node:tls';
import { runCli, STACK, testdir } from './helpers/cli.js';
import { startServer } from './helpers/server.js';
import { createCa, issueCert } from '../src/tls/dev-certs.js';

// check-endpoint: the server as a vehicle reaches it, against real listeners.
const VIN = '5YJ3E1EA7KF000031';

t.setTimeout(240_000);

/** Lines by check name: "ok    tls: ..." → { tls: ['ok', '...'] } (the last line of each name). */
function parse(stdout: string): Record<string, [string, string]> {
  const out: Record<string, [string, string]> = {};
  for (const l of stdout.split('\n')) {
    const m = /^(ok|warn|fail)\s+([a-z_]+): (.*)$/.exec(l);
    if (m) out[m[2]] = [m[1], m[3]];
  }
  return out;
}

/** A TLS listener the test owns, on a free loopback port, closed at teardown. */
async function listener(t: Test, opts: TlsOptions): Promise<number> {
  const server = createServer(opts, (s) => s.end('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'));
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return (server.address() as AddressInfo).port;
}

t.test('against the running server: passes, and fails for a wrong ca or a name the certificate does not cover', async (t) => {
  const dir = testdir(t);
  // localhost only: 127.0.0.1 is then a name the certificate does not cover.
  const made = await runCli(['certs', '--hostname', 'localhost', '--vin', VIN, '--out', 'dc'], dir);
  t.equal(made.code, 0, made.stderr);
  const tls = {
    server_cert: join(dir, 'dc', 'server-localhost-chain.pem'),
    server_key: join(dir, 'dc', 'server-localhost.key'),
    ca_file: join(dir, 'dc', 'ca.pem'),
  };
  const server = await startServer(dir, { records: { V: ['logger'] }, tls });
  t.teardown(() => server.stop());
  const vcert = ['--cert', join('dc', 'vehicles', `${VIN}.pem`), '--key', join('dc', 'vehicles', `${VIN}.key`)];

  const ok = await runCli(['check-endpoint', `localhost:${server.port}`, '--ca', 'dc/ca.pem', ...vcert], dir);
  t.equal(ok.code, 0, ok.stdout + ok.stderr);
  const l = parse(ok.stdout);
  t.equal(l.tcp[0], 'ok');
  t.match(l.tls, ['ok', /^TLSv1\.[23] agreed$/]);
  t.match(l.chain, [
    'ok',
    /verifies against the ca: "localhost" issued by "fleet-telemetry localhost dev CA [0-9a-f]{8}", trusted as "fleet-telemetry localhost dev CA [0-9a-f]{8}" \(SHA-256 ([0-9A-F]{2}:){7}[0-9A-F]{2}, from dc\/ca\.pem\)/,
  ]);
  t.match(l.hostname, ['ok', /localhost is covered/]);
  t.match(l.client_cert, ['ok', /asks for a client certificate, naming 15 acceptable CAs/]);
  t.match(l.tesla_ca, ['ok', /all 14 CAs of Tesla's production vehicle bundle are among them/]);
  t.match(l.frame, ['ok', new RegExp(`WebSocket upgrade as ${VIN}; one V frame acked`)]);
  t.match(l.tls_end, ['ok', /mTLS ends at the fleet-telemetry server itself \(direct mode\)/], 'it says mTLS ends at the server');
  t.notOk(l.ca_list, "Tesla's bundle and one CA: no long-list warning");
  t.match(l.dns, ['warn', /private or loopback, not reachable by a vehicle/], 'a loopback name is a warning, not a failure');

  // Tesla's validate_server.json, and the body vehicle-config prints.
  writeFileSync(join(dir, 'validate_server.json'), JSON.stringify({ hostname: 'localhost', port: server.port, ca: readFileSync(tls.ca_file, 'utf8') }));
  const vs = await runCli(['check-endpoint', 'validate_server.json'], dir);
  t.equal(vs.code, 0, vs.stdout + vs.stderr);
  t.match(parse(vs.stdout).chain, ['ok']);
  t.match(vs.stdout, /frame: not tried/);
  writeFileSync(join(dir, 'cfg.json'), JSON.stringify({ host: '127.0.0.1', port: 0, records: { V: ['logger'] }, tls }));
  const body = await runCli(['vehicle-config', '--config', 'cfg.json', '--hostname', 'localhost', '--port', String(server.port), '--vin', VIN], dir);
  t.equal(body.code, 0, body.stderr);
  writeFileSync(join(dir, 'body.json'), body.stdout);
  const fromBody = await runCli(['check-endpoint', 'body.json', ...vcert], dir);
  t.equal(fromBody.code, 0, fromBody.stdout);
  t.match(parse(fromBody.stdout).frame, ['ok']);

  const other = await createCa({ commonName: 'Unrelated CA' });
  writeFileSync(join(dir, 'other.pem'), other.certPem);
  const wrongCa = await runCli(['check-endpoint', `localhost:${server.port}`, '--ca', 'other.pem'], dir);
  t.equal(wrongCa.code, 1, 'wrong ca: exit 1');
  t.match(parse(wrongCa.stdout).chain, [
    'fail',
    /does not verify against the ca: the server's chain ends at the root "fleet-telemetry localhost dev CA [0-9a-f]{8}" \(SHA-256 [0-9A-F:]{23}\), which is not in the ca \(the ca from other\.pem holds "Unrelated CA" \(SHA-256 [0-9A-F:]{23}\)\)/,
  ]);

  const wrongName = await runCli(['check-endpoint', `127.0.0.1:${server.port}`, '--ca', 'dc/ca.pem'], dir);
  t.equal(wrongName.code, 1, 'wrong host name: exit 1');
  t.match(parse(wrongName.stdout).hostname, ['fail', /127\.0\.0\.1 is not covered by the server certificate \(it covers DNS:localhost\)/]);
  t.notMatch(wrongName.stderr, STACK);

  // A client certificate from a CA the server does not name: said from the CertificateRequest, the upgrade still tried.
  const stranger = await issueCert(other, { commonName: VIN, kind: 'client' });
  writeFileSync(join(dir, 'stranger.pem'), stranger.certPem);
  writeFileSync(join(dir, 'stranger.key'), stranger.keyPem);
  const untrusted = await runCli(['check-endpoint', `localhost:${server.port}`, '--ca', 'dc/ca.pem', '--cert', 'stranger.pem', '--key', 'stranger.key'], dir);
  t.equal(untrusted.code, 1, 'untrusted client certificate: exit 1');
  const u = parse(untrusted.stdout);
  t.match(u.client_issuer, [
    'fail',
    new RegExp(
      `the client certificate "${VIN}" is issued by "Unrelated CA", which is not among the 15 CAs the server accepts \\(("[^"]+", ){7}"[^"]+" and 7 more\\): the server will refuse it`,
    ),
  ]);
  t.match(u.websocket ?? u.frame, ['fail', /as expected: the server does not accept the client certificate's issuer/], 'the upgrade was still tried');
  t.ok(untrusted.stdout.indexOf('client_issuer:') < untrusted.stdout.search(/(websocket|frame):/), 'the reason comes before the upgrade outcome');
  t.match(l.client_issuer, ['ok', /issuer "fleet-telemetry [^"]*" is among the CAs the server accepts/], 'a trusted one is ok');
});

t.test('fails for a TLS 1.1-only server and for one that does not ask for a client certificate', async (t) => {
  const dir = testdir(t);
  const made = await runCli(['certs', '--hostname', 'localhost', '--out', 'dc'], dir);
  t.equal(made.code, 0, made.stderr);
  const cert = readFileSync(join(dir, 'dc', 'server-localhost-chain.pem'), 'utf8');
  const key = readFileSync(join(dir, 'dc', 'server-localhost.key'), 'utf8');

  // OpenSSL's default security level forbids TLS 1.1; level 0 lets this old server offer it.
  const oldPort = await listener(t, { cert, key, minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' });
  const old = await runCli(['check-endpoint', `localhost:${oldPort}`, '--ca', 'dc/ca.pem'], dir);
  t.equal(old.code, 1, 'TLS 1.1 only: exit 1');
  t.match(parse(old.stdout).tls, ['fail', /the server speaks TLSv1\.1 at most; vehicles need TLS 1\.2 or newer/]);

  const plainPort = await listener(t, { cert, key, minVersion: 'TLSv1.2' });
  const plain = await runCli(['check-endpoint', `localhost:${plainPort}`, '--ca', 'dc/ca.pem'], dir);
  t.equal(plain.code, 1, 'no client certificate requested: exit 1');
  const p = parse(plain.stdout);
  t.match(p.chain, ['ok'], 'the chain itself is fine');
  t.match(p.client_cert, ['fail', /does not ask for a client certificate: .*TLS-terminating proxy/]);

  // TLS 1.2 only, asking for a certificate from a CA without Tesla's: chain judged by openssl, Tesla CAs missing.
  const other = await createCa({ commonName: 'Device CA' });
  const noTeslaPort = await listener(t, {
    cert,
    key,
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.2',
    requestCert: true,
    rejectUnauthorized: true,
    ca: other.certPem,
  });
  const noTesla = await runCli(['check-endpoint', `localhost:${noTeslaPort}`, '--ca', 'dc/ca.pem'], dir);
  t.equal(noTesla.code, 1);
  const n = parse(noTesla.stdout);
  t.match(n.tls, ['ok', /TLSv1\.2/]);
  t.match(n.chain, ['ok', /judged by openssl/]);
  t.match(n.client_cert, ['ok', /naming 1 acceptable CA$/]);
  t.match(n.tesla_ca, ['fail', /none of Tesla's vehicle CAs is among them/]);
});

t.test('usage errors', async (t) => {
  const dir = testdir(t);
  for (const [args, msg] of [
    [['localhost:443'], /--ca FILE is required/],
    [['localhost:99999', '--ca', 'x.pem'], /99999 is not a port/],
    [[], /HOST:PORT or a JSON file is required/],
  ] as const) {
    writeFileSync(join(dir, 'x.pem'), (await createCa()).certPem);
    const r = await runCli(['check-endpoint', ...args], dir);
    t.equal(r.code, 2, args.join(' '));
    t.match(r.stderr, msg);
  }
});
