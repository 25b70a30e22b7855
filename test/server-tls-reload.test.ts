import t from 'tap';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { testdir } from './helpers/cli.js';
import { makePki } from './helpers/pki.js';
import { freePort } from './helpers/ports.js';
import { startServer, type ServerProcess } from './helpers/server.js';
import { connectVehicle, vFrame, type VehicleClient } from './helpers/vehicle.js';
import { issueCert, type KeyPairPem } from '../src/tls/dev-certs.js';

// Issue #30 item 6: certificates renewed without a restart (SIGHUP and file changes).
t.setTimeout(240_000);

/** The certificate a new handshake gets, as its SHA-256 fingerprint. */
function served(port: number, ca: string, client?: KeyPairPem): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca, cert: client?.certPem, key: client?.keyPem }, () => {
      const fp = s.getPeerCertificate().fingerprint256;
      s.destroy();
      resolve(fp);
    });
    s.once('error', reject);
  });
}

const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;

/** Files replaced the way an ACME client does: written beside, then renamed over. */
function install(file: string, text: string): void {
  writeFileSync(`${file}.new`, text);
  renameSync(`${file}.new`, file);
}

async function waitLog(server: ServerProcess, from: number, event: string, ms = 20_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const l = server.logs.slice(from).find((x) => x.event === event);
    if (l) return l;
    if (Date.now() > deadline) throw new Error(`no ${event} log line within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

t.test('100 vehicles stay connected and acked while the certificate is replaced; new handshakes get the new one (2 workers and the key page)', async (t) => {
  const dir = testdir(t);
  const pki = await makePki(join(dir, 'pki'));
  const appKey = join(dir, 'app-key.pem');
  writeFileSync(appKey, generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  const server = await startServer(dir, {
    records: { V: ['logger'] },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
    workers: 2,
    log_level: 'info',
    tesla: { private_key: appKey, public_key_port: await freePort() },
  });
  t.teardown(() => server.stop());
  const page = (await server.waitForLog((l) => l.event === 'public_key_page_listening')).port as number;
  const ca = pki.ca.certPem;
  const oldFp = fingerprint(readFileSync(pki.serverCert, 'utf8'));

  const cars: VehicleClient[] = [];
  let dropped = 0;
  const vins = Array.from({ length: 100 }, (_, i) => `5YJ3E1EA7KF1${String(i).padStart(5, '0')}`);
  t.teardown(() => Promise.all(cars.map((c) => c.close())));
  for (let i = 0; i < vins.length; i += 10) {
    const batch = await Promise.all(vins.slice(i, i + 10).map(async (vin) => connectVehicle(server.port, await pki.vehicle(vin), ca)));
    for (const c of batch) {
      cars.push(c);
      void c.closed.then(() => dropped++);
    }
  }
  const acked = new Set<string>();
  const round = async (n: number) => {
    await Promise.all(
      cars.map(async (c, i) => {
        const txid = `r${n}-${i}`;
        c.send(vFrame(txid, vins[i], [{ key: 'VehicleSpeed', value: { float_value: n } }]));
        if ((await c.response(txid)).kind === 'ack') acked.add(txid);
      }),
    );
  };
  await round(1);
  t.equal(acked.size, 100, '100 frames acked before the renewal');

  const renewed = await issueCert(pki.ca, { commonName: 'localhost', kind: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const from = server.logs.length;
  install(pki.serverKey, renewed.keyPem);
  install(pki.serverCert, renewed.certPem);
  server.proc.kill('SIGHUP');
  const reloaded = await waitLog(server, from, 'tls_reloaded');
  t.equal(reloaded.fingerprint256, fingerprint(renewed.certPem), 'the log names the new certificate');
  // Round-robin: several handshakes reach both workers.
  const v = await pki.vehicle(vins[0]);
  const seen = new Set<string>();
  for (let i = 0; i < 6; i++) seen.add(await served(server.port, ca, v));
  t.same([...seen], [fingerprint(renewed.certPem)], 'every new vehicle handshake, on every worker, gets the new certificate');
  t.equal(await served(page, ca), fingerprint(renewed.certPem), 'so does the public key page');
  t.not(fingerprint(renewed.certPem), oldFp);

  await round(2);
  t.equal(dropped, 0, '0 vehicles dropped');
  t.equal(acked.size, 200, 'every frame after the renewal acked on the same connections');
  await new Promise((r) => setTimeout(r, 500));
  const published = new Set(server.logs.filter((l) => l.event === 'record').map((l) => l.txid as string));
  t.same(
    [...acked].filter((x) => !published.has(x)),
    [],
    '0 acked frames lost: each reached the producer',
  );
  t.notOk(
    server.logs.some((l) => l.event === 'vehicle_disconnected'),
    'no disconnect logged',
  );
  t.equal(server.logs.filter((l) => l.event === 'tls_reload_failed').length, 0);
});

t.test('a changed file is picked up without a signal; a broken one keeps the old certificate with one error line', async (t) => {
  const dir = testdir(t);
  const pki = await makePki(join(dir, 'pki'));
  const server = await startServer(dir, {
    records: { V: ['logger'] },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
    log_level: 'info',
  });
  t.teardown(() => server.stop());
  const ca = pki.ca.certPem;
  const v = await pki.vehicle('5YJ3E1EA7KF200001');
  const car = await connectVehicle(server.port, v, ca);
  t.teardown(() => car.close());

  const next = await issueCert(pki.ca, { commonName: 'localhost', kind: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  let from = server.logs.length;
  install(pki.serverKey, next.keyPem);
  install(pki.serverCert, next.certPem);
  const l = await waitLog(server, from, 'tls_reloaded');
  t.equal(l.trigger, 'file_changed', 'picked up by watching the files');
  t.equal(server.logs.slice(from).filter((x) => x.event === 'tls_reloaded').length, 1, 'one reload for the two files of a renewal');
  t.equal(await served(server.port, ca, v), fingerprint(next.certPem));

  // A certificate that does not parse.
  from = server.logs.length;
  writeFileSync(pki.serverCert, '-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n');
  server.proc.kill('SIGHUP');
  const bad = await waitLog(server, from, 'tls_reload_failed');
  t.equal(bad.file, pki.serverCert, 'names the file');
  t.match(bad.reason, /does not parse/, 'and the reason');
  t.match(bad.msg, /the certificate in use stays/);
  t.equal(await served(server.port, ca, v), fingerprint(next.certPem), 'the old certificate is still served');

  // A key that is not the certificate's.
  const other = await issueCert(pki.ca, { commonName: 'localhost', kind: 'server', dnsNames: ['localhost'] });
  install(pki.serverCert, next.certPem);
  await new Promise((r) => setTimeout(r, 4000)); // the watcher settles on the restored (unchanged) file
  from = server.logs.length;
  writeFileSync(pki.serverKey, other.keyPem);
  server.proc.kill('SIGHUP');
  const mismatch = await waitLog(server, from, 'tls_reload_failed');
  t.equal(mismatch.file, pki.serverKey);
  t.match(mismatch.reason, /the key is not the key of the certificate/);
  await new Promise((r) => setTimeout(r, 4000)); // the watcher sees the same write too
  t.equal(server.logs.slice(from).filter((x) => x.event === 'tls_reload_failed').length, 1, 'one error line, from the signal and the watcher together');
  t.equal(await served(server.port, ca, v), fingerprint(next.certPem));

  car.send(vFrame('after', '5YJ3E1EA7KF200001', [{ key: 'VehicleSpeed', value: { float_value: 1 } }]));
  t.equal((await car.response('after')).kind, 'ack', 'the connected vehicle was never disturbed');
  t.equal(server.proc.exitCode, null, 'the server still runs');
});
