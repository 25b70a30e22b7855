import t from 'tap';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { closedAfterCertificate, classifyHandshakeFailure } from '../src/server/handshake.js';
import { createCa } from '../src/tls/dev-certs.js';
import { testdir } from './helpers/cli.js';
import { makePki } from './helpers/pki.js';
import { waitUntil } from './helpers/ports.js';
import { startServer, testWorkers, type LogLine } from './helpers/server.js';

// A client that does not accept the server's certificate leaves a `server_refused` line: the alert
// it sent, or the close the server saw, with the remote address and the name it asked for.
const VIN = '5YJ3E1EA7KF000077';

t.test('rules: refusal alerts and closes after the certificate', async (t) => {
  const alert = classifyHandshakeFailure(Object.assign(new Error('x'), { code: 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA' }), undefined, undefined);
  t.match(alert, { reason: 'server_refused', alert: 'unknown_ca', notable: true, message: /alert unknown_ca/ });
  t.match(classifyHandshakeFailure(Object.assign(new Error('x'), { code: 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE' }), undefined, undefined), {
    alert: 'bad_certificate',
  });
  t.match(
    classifyHandshakeFailure(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), undefined, undefined),
    { reason: 'closed_early' },
    'a close alone is no refusal',
  );
  t.match(closedAfterCertificate('before_client_finished'), {
    reason: 'server_refused',
    notable: true,
    message: /after the server's certificate, before finishing the handshake/,
  });
  t.match(closedAfterCertificate('before_request').message, /after the handshake without sending any request/);
});

t.test('a real server logs server_refused for clients that refuse its certificate', async (t) => {
  const dir = testdir(t);
  const pki = await makePki(dir);
  const server = await startServer(dir, {
    records: { V: ['logger'] },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
    monitoring: { prometheus_metrics_port: 0 },
  });
  t.teardown(() => server.stop());
  const monitorPort = (await server.waitForLog((l) => l.event === 'monitoring_listening')).port as number;
  const v = await pki.vehicle(VIN);
  const other = await createCa({ commonName: 'Not The Server CA' });

  /** Connects as a vehicle that verifies the server; resolves with the client's error. */
  const refuse = (opts: ConnectionOptions) =>
    new Promise<string>((resolve) => {
      const s = tlsConnect({ host: '127.0.0.1', port: server.port, cert: v.certPem, key: v.keyPem, rejectUnauthorized: true, ...opts });
      s.once('secureConnect', () => {
        // Ends as a client that goes on would: a request, then a clean close.
        s.resume();
        s.end('GET /status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
        s.once('close', () => resolve('accepted'));
      });
      s.once('error', (err) => resolve(err.message));
    });
  const refusals = (): LogLine[] => server.logs.filter((l) => l.event === 'server_refused');
  const next = (n: number) => waitUntil(() => refusals()[n], 30_000, `server_refused line #${n + 1}`);

  // TLS 1.3, a name the certificate does not cover: Node's client closes without an alert.
  t.match(await refuse({ servername: 'wrong.example', ca: pki.ca.certPem }), /does not match certificate's altnames/);
  const l1 = await next(0);
  t.equal(l1.level, 40, 'at warn');
  t.match(l1, { remote: '127.0.0.1', sni: 'wrong.example', detail: /closed the connection after the server's certificate, before finishing the handshake/ });
  t.notOk(l1.alert, 'no alert came');

  // TLS 1.2, a CA that did not issue the server's certificate: the handshake completes, no request follows.
  t.match(await refuse({ servername: 'localhost', ca: other.certPem, maxVersion: 'TLSv1.2' }), /self.signed|unable to verify/i);
  const l2 = await next(1);
  t.match(l2, { remote: '127.0.0.1', sni: 'localhost', detail: /closed the connection after the handshake without sending any request/ });

  // openssl's client sends an alert when the chain does not verify.
  writeFileSync(join(dir, 'other.pem'), other.certPem);
  writeFileSync(join(dir, 'v.pem'), v.certPem);
  writeFileSync(join(dir, 'v.key'), v.keyPem);
  await new Promise<void>((resolve) => {
    const child = execFile(
      'openssl',
      [
        's_client',
        '-connect',
        `127.0.0.1:${server.port}`,
        '-servername',
        'localhost',
        '-CAfile',
        join(dir, 'other.pem'),
        '-verify_return_error',
        '-cert',
        join(dir, 'v.pem'),
        '-key',
        join(dir, 'v.key'),
      ],
      { timeout: 30_000 },
      () => resolve(),
    );
    child.stdin?.end('');
  });
  const l3 = await next(2);
  t.match(l3, {
    remote: '127.0.0.1',
    sni: 'localhost',
    alert: /^(unknown_ca|bad_certificate|certificate_unknown)$/,
    detail: /the client refused the server's certificate \(alert /,
  });
  t.notOk(
    server.logs.some((l) => l.event === 'tls_handshake_failed' && l.level >= 40),
    'no tls_handshake_failed warn line for them',
  );

  // A vehicle that accepts the certificate leaves no such line; a client without a certificate is still tls_handshake_failed.
  t.equal(await refuse({ servername: 'localhost', ca: pki.ca.certPem }), 'accepted');
  await refuse({ servername: 'localhost', ca: pki.ca.certPem, cert: undefined, key: undefined });
  await server.waitForLog((l) => l.event === 'tls_handshake_failed' && l.reason === 'no_certificate');

  // Limited like the other connection lines: 5 a minute for each kind, every one counted.
  for (let i = 0; i < 6; i++) await refuse({ servername: 'wrong.example', ca: pki.ca.certPem });
  const counted = () =>
    fetch(`http://127.0.0.1:${monitorPort}/metrics`)
      .then((r) => r.text())
      .then((m) => Number(/tls_handshake_failures_total\{reason="server_refused"\} (\d+)/.exec(m)?.[1] ?? 0));
  await waitUntil(async () => ((await counted()) >= 9 ? true : undefined), 30_000, 'nine refusals counted');
  // The limit is per process: with workers (make test-workers) each worker writes its own 5.
  const closed = refusals().filter((l) => !l.alert);
  const perProcess = new Map<unknown, number>();
  for (const l of closed) perProcess.set(l.worker, (perProcess.get(l.worker) ?? 0) + 1);
  if ((testWorkers().workers ?? 1) === 1) {
    t.equal(closed.length, 5, `5 lines for the closes without an alert, the rest left out (${refusals().length} in all)`);
  } else {
    t.ok(closed.length >= 5, `at least 5 lines for the closes without an alert (${closed.length})`);
    for (const [worker, n] of perProcess) t.ok(n <= 5, `worker ${String(worker)}: ${n} lines, at most 5`);
  }
  t.equal(await counted(), 9, 'the counter has every one (accepted connections not among them)');
});
