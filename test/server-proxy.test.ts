import t from 'tap';
import { connect as tlsConnect } from 'node:tls';
import { createCa, issueCert } from '../src/tls/dev-certs.js';
import { makePki } from './helpers/pki.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { brokerConnected, startServer } from './helpers/server.js';
import { subscribe } from './helpers/subscriber.js';
import { vFrame } from './helpers/vehicle.js';
import { readFrame } from '../src/envelope/index.js';
import { base64Der, escapedPem, proxiedUpgrade, rawExchange } from './helpers/proxied.js';
import { waitUntil } from './helpers/ports.js';

// tls.proxy: the server behind a TLS-terminating proxy. The test plays the proxy (plain HTTP from
// 127.0.0.1 with the client certificate header), and the things a proxy must not let through.

const HEADER = 'X-Client-Cert';
const BASE = 'fleet';

t.test('tls.proxy: the proxied certificate is verified again and gives the VIN', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const mosq = await startMosquitto(dir);
  t.teardown(() => mosq.stop());
  const server = await startServer(dir, {
    status_port: 0,
    records: { V: ['mqtt'] },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile, proxy: { trusted_proxies: ['127.0.0.1'], client_cert_header: HEADER } },
    mqtt: { broker: mosq.url, qos: 1, topic_base: BASE },
  });
  t.teardown(() => server.stop().catch(() => server.proc.kill('SIGKILL')));
  await brokerConnected(server);
  const sub = await subscribe(mosq.url, `${BASE}/#`);
  t.teardown(() => sub.close());

  const ackedAs = async (headerValue: string, vin: string, txid: string) => {
    const r = await proxiedUpgrade(server.port, { [HEADER]: headerValue });
    if (!r.ws) throw new Error(`upgrade refused: ${r.status} ${r.body}`);
    const ws = r.ws;
    const acked = new Promise<boolean>((resolve) => {
      ws.on('message', (d: Buffer) => {
        const f = readFrame(d);
        if (f.txid === txid) resolve(f.messageType === 5);
      });
    });
    ws.send(vFrame(txid, vin, [{ key: 'VehicleSpeed', value: { float_value: 42 } }]));
    const ok = await acked;
    ws.close();
    return ok;
  };

  await t.test('URL-encoded PEM (nginx) and base64 DER (haproxy) are both accepted', async (t) => {
    const a = await pki.vehicle('5YJ3E1EA7KF000201');
    const b = await pki.vehicle('5YJ3E1EA7KF000202');
    t.ok(await ackedAs(escapedPem(a), '5YJ3E1EA7KF000201', 'pem-1'), 'a frame acked with $ssl_client_escaped_cert');
    t.ok(await ackedAs(base64Der(b), '5YJ3E1EA7KF000202', 'der-1'), 'a frame acked with ssl_c_der,base64');
    await sub.waitFor(
      (m) => ['5YJ3E1EA7KF000201', '5YJ3E1EA7KF000202'].every((v) => m.some((x) => x.topic === `${BASE}/${v}/v/VehicleSpeed`)),
      10_000,
      'both fields',
    );
    t.pass('each published under the VIN of its certificate');
  });

  await t.test('the VIN comes from the certificate, never from the frame', async (t) => {
    const a = await pki.vehicle('5YJ3E1EA7KF000203');
    t.ok(await ackedAs(escapedPem(a), '5YJ3E1EA7KF999998', 'claim-1'), 'acked');
    await sub.waitFor((m) => m.some((x) => x.topic === `${BASE}/5YJ3E1EA7KF000203/v/VehicleSpeed`), 10_000, 'the field');
    t.notOk(
      sub.messages.some((x) => x.topic.includes('5YJ3E1EA7KF999998')),
      'nothing under the VIN the frame claimed',
    );
  });

  await t.test('refused with 403 and the reason', async (t) => {
    const other = await createCa({ commonName: 'Other CA' });
    const stranger = await issueCert(other, { commonName: '5YJ3E1EA7KF000210', kind: 'client' });
    const expired = await issueCert(pki.ca, {
      commonName: '5YJ3E1EA7KF000211',
      kind: 'client',
      notBefore: new Date(Date.now() - 10 * 86400_000),
      notAfter: new Date(Date.now() - 86400_000),
    });
    const badName = await pki.vehicle('5YJ3E1EA7KF/000212');
    const good = await pki.vehicle('5YJ3E1EA7KF000213');
    const cases: [string, Record<string, string | string[]>, RegExp][] = [
      ['no header', {}, /no client certificate header/],
      ['an empty header', { [HEADER]: '' }, /no client certificate header/],
      ['garbage', { [HEADER]: 'not a certificate!' }, /neither URL-encoded PEM nor base64 DER/],
      ['base64 that is no certificate', { [HEADER]: Buffer.from('hello').toString('base64') }, /does not parse/],
      ['another CA', { [HEADER]: escapedPem(stranger) }, /not trusted/],
      ['an expired certificate', { [HEADER]: base64Der(expired) }, /expired/],
      ['the CA certificate itself', { [HEADER]: escapedPem(pki.ca) }, /CA certificate/],
      ['two certificates (a client header passed beside the proxy one)', { [HEADER]: [escapedPem(good), escapedPem(stranger)] }, /more than once/],
    ];
    for (const [what, headers, reason] of cases) {
      const r = await proxiedUpgrade(server.port, headers);
      r.ws?.close();
      t.equal(r.status, 403, `${what}: 403`);
      t.match(r.body ?? '', reason, `${what}: the reason is given (${(r.body ?? '').trim()})`);
    }
    const bad = await proxiedUpgrade(server.port, { [HEADER]: escapedPem(badName) });
    t.equal(bad.status, 403, 'a common name that is not a safe VIN: 403, as in direct mTLS');
    t.match(bad.body, /not a valid VIN/);
    await waitUntil(() => server.logs.some((l) => l.event === 'vehicle_refused' && /not trusted/.test(String(l.reason))), 5000, 'a vehicle_refused line');
    t.notOk(
      sub.messages.some((x) => /5YJ3E1EA7KF00021[0-2]/.test(x.topic)),
      'nothing published for a refused certificate',
    );
  });

  await t.test('/status answers mtls ok for a verified certificate, 403 without', async (t) => {
    const good = await pki.vehicle('5YJ3E1EA7KF000213');
    const ok = await fetch(`http://127.0.0.1:${server.port}/status`, { headers: { [HEADER]: base64Der(good) } });
    t.equal(ok.status, 200);
    t.equal(await ok.text(), 'mtls ok');
    t.equal(ok.headers.get('fleet-telemetry-tls'), 'proxy', 'it says the certificate came through a proxy');
    const no = await fetch(`http://127.0.0.1:${server.port}/status`);
    t.equal(no.status, 403);
  });

  await t.test('a TLS handshake at the plain listener is refused loudly', async (t) => {
    const cert = await pki.vehicle('5YJ3E1EA7KF000214');
    const err = await new Promise<Error | undefined>((resolve) => {
      const s = tlsConnect({ host: '127.0.0.1', port: server.port, cert: cert.certPem, key: cert.keyPem, ca: pki.ca.certPem, servername: 'localhost' });
      s.once('secureConnect', () => {
        s.destroy();
        resolve(undefined);
      });
      s.once('error', (e) => resolve(e));
    });
    t.ok(err, `the TLS client fails (${err?.message})`);
    t.match(err?.message ?? '', /alert handshake failure|handshake/i, 'with a TLS alert, not a hang');
    const line = await server.waitForLog((l) => l.event === 'tls_at_plain_listener');
    t.equal(line.level, 40, 'a warn line');
    t.match(String(line.msg), /through the proxy/);
  });

  await t.test('an address outside trusted_proxies is closed before a byte is read', async (t) => {
    const good = await pki.vehicle('5YJ3E1EA7KF000215');
    // 127.0.0.2 is loopback too, and not in trusted_proxies.
    const forged = `GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${HEADER}: ${base64Der(good)}\r\n\r\n`;
    const r = await rawExchange(server.port, forged, { localAddress: '127.0.0.2' });
    t.ok(r.closed, 'closed by the server');
    t.equal(r.received.length, 0, 'not a byte answered');
    const line = await server.waitForLog((l) => l.event === 'proxy_untrusted');
    t.equal(line.remote, '127.0.0.2', 'a warn line names the address');
    t.notOk(
      server.logs.some((l) => l.event === 'vehicle_connected' && l.vin === '5YJ3E1EA7KF000215'),
      'no session for the forged header',
    );
    const again = await rawExchange(server.port, forged, { localAddress: '127.0.0.1' });
    t.match(again.received.toString('latin1'), /^HTTP\/1\.1 101/, 'the same request from the trusted address upgrades (so the refusal was the address)');
  });
});
