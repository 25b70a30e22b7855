import t from 'tap';
import type { Test } from 'tap';
import { execFile } from 'node:child_process';
import { connect as tlsConnect } from 'node:tls';
import { makePki, type TestPki } from './helpers/pki.js';
import { startServer } from './helpers/server.js';
import { connectVehicle, vFrame } from './helpers/vehicle.js';
import { splitPem, teslaCaDir } from '../src/tls/ca-bundle.js';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

// §1: who may connect, and which CA names a vehicle is offered to pick its certificate from.
const VIN = '5YJ3E1EA7KF000003';

/** The CA names of the server's CertificateRequest, as openssl's client prints them. */
function offeredCaNames(port: number, pki: TestPki, vehicleCert: string, vehicleKey: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'openssl',
      ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-CAfile', pki.caFile, '-cert', vehicleCert, '-key', vehicleKey],
      { timeout: 10_000 },
      (err, stdout) => {
        const m = /Acceptable client certificate CA names\n([\s\S]*?)\n(?:Requested|Client Certificate Types|Server Temp Key|---)/.exec(stdout);
        if (!m) return reject(new Error(`no CA names in openssl output (${err?.message ?? ''}): ${stdout.slice(0, 2000)}`));
        resolve(
          m[1]
            .split('\n')
            .map((l) => l.trim())
            .filter(Boolean),
        );
      },
    );
    child.stdin?.end('');
  });
}

function bundleSubjects(file: string): string[] {
  return splitPem(readFileSync(join(teslaCaDir(), file), 'utf8')).map((p) => new X509Certificate(p).subject);
}

/** "CN = X, O = Y" (openssl) and "CN=X\nO=Y" (node) compared by their CN. */
const cnOf = (s: string) => /CN\s*=\s*([^,\n]+)/.exec(s)?.[1].trim();

async function withServer(t: Test, config: Record<string, unknown>, fn: (port: number, pki: TestPki) => Promise<void>) {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const server = await startServer(dir, {
    records: { V: ['logger'] },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile, ...(config.tls as object) },
    ...Object.fromEntries(Object.entries(config).filter(([k]) => k !== 'tls')),
  });
  try {
    await fn(server.port, pki);
  } finally {
    await server.stop();
  }
}

t.test('default pool: Tesla production bundle plus ca_file', (t) =>
  withServer(t, {}, async (port, pki) => {
    const v = await pki.vehicle(VIN);
    const dir = pki.dir;
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'v.pem'), v.certPem);
    writeFileSync(join(dir, 'v.key'), v.keyPem);
    const names = await offeredCaNames(port, pki, join(dir, 'v.pem'), join(dir, 'v.key'));
    const expected = [...bundleSubjects('production.pem').map(cnOf), 'Test Fleet CA'];
    t.same(names.map(cnOf).sort(), expected.sort(), 'exactly the Tesla production bundle and the ca_file CA');

    const client = await connectVehicle(port, v, pki.ca.certPem);
    client.send(vFrame('tls-1', VIN, [{ key: 'VehicleSpeed', value: { float_value: 1 } }]));
    t.equal((await client.response('tls-1')).kind, 'ack', 'a ca_file vehicle is accepted with the Tesla bundle in the pool');
    await client.close();

    await t.rejects(connectVehicle(port, undefined, pki.ca.certPem), 'no client certificate: refused');
    await t.rejects(connectVehicle(port, pki.stranger, pki.ca.certPem), 'a certificate from another CA: refused');
    await t.rejects(
      new Promise((resolve, reject) => {
        const s = tlsConnect({
          host: '127.0.0.1',
          port,
          servername: 'localhost',
          ca: pki.ca.certPem,
          cert: v.certPem,
          key: v.keyPem,
          minVersion: 'TLSv1',
          maxVersion: 'TLSv1.1',
        });
        s.once('secureConnect', () => {
          s.destroy();
          resolve('connected');
        });
        s.once('error', reject);
      }),
      'TLS 1.1: refused',
    );
  }),
);

t.test('use_default_eng_ca: the engineering bundle instead', (t) =>
  withServer(t, { use_default_eng_ca: true }, async (port, pki) => {
    const v = await pki.vehicle(VIN);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(pki.dir, 'v.pem'), v.certPem);
    writeFileSync(join(pki.dir, 'v.key'), v.keyPem);
    const names = await offeredCaNames(port, pki, join(pki.dir, 'v.pem'), join(pki.dir, 'v.key'));
    t.same(names.map(cnOf).sort(), [...bundleSubjects('engineering.pem').map(cnOf), 'Test Fleet CA'].sort());
  }),
);

t.test('trust_tesla_ca false: only ca_file', (t) =>
  withServer(t, { tls: { trust_tesla_ca: false } }, async (port, pki) => {
    const v = await pki.vehicle(VIN);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(pki.dir, 'v.pem'), v.certPem);
    writeFileSync(join(pki.dir, 'v.key'), v.keyPem);
    const names = await offeredCaNames(port, pki, join(pki.dir, 'v.pem'), join(pki.dir, 'v.key'));
    t.same(names.map(cnOf), ['Test Fleet CA']);
  }),
);

t.test('handshake failures: a warn line in plain words with the remote address, and a counter by reason', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const server = await startServer(dir, {
    records: { V: ['logger'] },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
    monitoring: { prometheus_metrics_port: 0 },
  });
  t.teardown(() => server.stop());
  const monitorPort = (await server.waitForLog((l) => l.event === 'monitoring_listening')).port as number;
  const v = await pki.vehicle(VIN);
  const attempt = (opts: Record<string, unknown>) =>
    new Promise<void>((resolve) => {
      const s = tlsConnect({ host: '127.0.0.1', port: server.port, rejectUnauthorized: false, ...opts }, () => s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      s.on('data', () => {});
      s.once('error', () => resolve());
      s.once('close', () => resolve());
    });
  const expectLine = async (reason: string, detail: RegExp) => {
    const line = await server.waitForLog((l) => l.event === 'tls_handshake_failed' && l.reason === reason);
    t.equal(line.level, 40, `${reason}: at warn`);
    t.equal(line.remote, '127.0.0.1', `${reason}: remote address`);
    t.match(line.detail, detail, `${reason}: in plain words`);
  };
  await attempt({});
  await expectLine('no_certificate', /^client sent no certificate$/);
  await attempt({ cert: pki.stranger.certPem, key: pki.stranger.keyPem });
  await expectLine('untrusted', /not trusted \(issuer CN=Other CA.*\): add its CA to tls\.ca_file/);
  await attempt({ cert: v.certPem, key: v.keyPem, minVersion: 'TLSv1', maxVersion: 'TLSv1.1' });
  await expectLine('protocol_version', /TLS 1\.1 or older refused/);
  const metrics = await (await fetch(`http://127.0.0.1:${monitorPort}/metrics`)).text();
  for (const reason of ['no_certificate', 'untrusted', 'protocol_version']) {
    t.match(metrics, new RegExp(`fleet_telemetry_tls_handshake_failures_total\\{reason="${reason}"\\} 1\\b`), `counted: ${reason}`);
  }
});
