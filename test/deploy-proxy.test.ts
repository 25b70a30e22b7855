import t, { type Test } from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makePki, type TestPki } from './helpers/pki.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { brokerConnected, startServer, type ServerProcess } from './helpers/server.js';
import { HAPROXY, startTlsLb } from './helpers/haproxy.js';
import { NGINX, startNginx } from './helpers/nginx.js';
import { subscribe, type Subscriber } from './helpers/subscriber.js';
import { connectVehicle, vFrame } from './helpers/vehicle.js';
import { escapedPem, rawExchange } from './helpers/proxied.js';
import { teslaCaDir } from '../src/tls/ca-bundle.js';
import { sleep, waitUntil } from './helpers/ports.js';
import { runCli } from './helpers/cli.js';

// deploy/nginx.conf and deploy/haproxy-tls.cfg, exactly as shipped (only their ${...} variables
// set), ending mTLS in front of two real servers in tls.proxy mode on one real mosquitto.

const HEADER = 'X-Client-Cert';
const BASE = 'fleet';

async function proxiedServers(t: Test, dir: string, pki: TestPki, brokerUrl: string): Promise<ServerProcess[]> {
  const servers: ServerProcess[] = [];
  for (const i of [1, 2]) {
    const s = await startServer(dir, {
      status_port: 0,
      records: { V: ['mqtt'] },
      tls: {
        server_cert: pki.serverCert,
        server_key: pki.serverKey,
        ca_file: pki.caFile,
        proxy: { trusted_proxies: ['127.0.0.1'], client_cert_header: HEADER },
      },
      mqtt: { broker: brokerUrl, qos: 1, topic_base: BASE, client_id: `fleet-telemetry-proxy-test-${i}-${Date.now()}` },
    });
    t.teardown(() => s.stop().catch(() => s.proc.kill('SIGKILL')));
    servers.push(s);
  }
  for (const s of servers) await brokerConnected(s);
  return servers;
}

/** The cases every proxy config must pass, through the proxy listening on `port`. */
async function proxyCases(t: Test, name: string, port: number, pki: TestPki, servers: ServerProcess[], sub: Subscriber, vinBase: number) {
  const vin = (n: number) => `5YJ3E1EA7KF${String(vinBase + n).padStart(6, '0')}`;
  const seen = (v: string) => servers.some((s) => s.logs.some((l) => l.event === 'vehicle_connected' && l.vin === v));

  await t.test(`${name}: check-endpoint says the proxy decrypts, and the server behind it verified the certificate`, async (t) => {
    const cert = await pki.vehicle(vin(9));
    writeFileSync(join(pki.dir, `v${vinBase}.pem`), cert.certPem);
    writeFileSync(join(pki.dir, `v${vinBase}.key`), cert.keyPem);
    const r = await waitUntil(
      async () => {
        const run = await runCli(['check-endpoint', `localhost:${port}`, '--ca', pki.caFile, '--cert', `v${vinBase}.pem`, '--key', `v${vinBase}.key`], pki.dir);
        return /frame: WebSocket upgrade/.test(run.stdout) ? run : sleep(200).then(() => undefined);
      },
      20_000,
      `check-endpoint through ${name}`,
    );
    t.equal(r.code, 0, r.stdout + r.stderr);
    t.match(r.stdout, /ok +tls_end: a proxy in front decrypts.*tls\.proxy mode and verified the certificate it passed again/);
    // The CertificateRequest names Tesla's bundle only: tls.ca_file is trusted, not named.
    t.match(r.stdout, /ok +client_cert: the server asks for a client certificate, naming 14 acceptable CAs/);
    t.match(r.stdout, /ok +tesla_ca: all 14 CAs of Tesla's production vehicle bundle/);
    t.notMatch(r.stdout, /ca_list/);
    t.match(r.stdout, new RegExp(`ok +frame: WebSocket upgrade as ${vin(9)}; one V frame acked`));
  });

  await t.test(`${name}: a vehicle is acked, under the VIN of its certificate`, async (t) => {
    const cert = await pki.vehicle(vin(1));
    // Until the proxy has a server in service: haproxy's first health checks may still run.
    const car = await waitUntil(
      () => connectVehicle(port, cert, pki.ca.certPem).catch(() => sleep(200).then(() => undefined)),
      10_000,
      `a vehicle connected through ${name}`,
    );
    t.teardown(() => car.close());
    car.send(vFrame('p-1', vin(1), [{ key: 'VehicleSpeed', value: { float_value: 61 } }]));
    const r = await car.response('p-1', 15_000);
    t.equal(r.kind, 'ack', 'acked');
    await sub.waitFor((m) => m.some((x) => x.topic === `${BASE}/${vin(1)}/v/VehicleSpeed`), 10_000, 'the field');
    t.same(JSON.parse(sub.messages.find((x) => x.topic === `${BASE}/${vin(1)}/v/VehicleSpeed`)!.payload), { value: 61 });
  });

  await t.test(`${name}: another CA's certificate and no certificate are refused`, async (t) => {
    await t.rejects(connectVehicle(port, pki.stranger, pki.ca.certPem), "another CA's certificate");
    await t.rejects(connectVehicle(port, undefined, pki.ca.certPem), 'no certificate');
    t.notOk(seen('5YJ3E1EA7KF999999'), "no session for the other CA's certificate");
  });

  await t.test(`${name}: a client's own header naming another VIN is replaced by the proxy`, async (t) => {
    const mine = await pki.vehicle(vin(2));
    const other = await pki.vehicle(vin(3));
    // Whatever a client sends under the header's name, the proxy's own value must replace it.
    const car = await connectVehicle(port, mine, pki.ca.certPem, { headers: { [HEADER]: escapedPem(other) } });
    t.teardown(() => car.close());
    car.send(vFrame('p-2', vin(3), [{ key: 'VehicleSpeed', value: { float_value: 62 } }]));
    const r = await car.response('p-2', 15_000);
    t.equal(r.kind, 'ack', 'acked as the vehicle the proxy verified');
    await sub.waitFor((m) => m.some((x) => x.topic === `${BASE}/${vin(2)}/v/VehicleSpeed`), 10_000, 'the field');
    t.ok(seen(vin(2)), 'the session is the verified VIN');
    const line = servers.flatMap((s) => s.logs).find((l) => l.event === 'vehicle_connected' && l.vin === vin(2));
    t.equal(line?.forwarded_for, '127.0.0.1', "the connection line names the vehicle's address as the proxy gave it");
    t.notOk(seen(vin(3)), 'no session under the VIN of the header the client sent');
    t.notOk(
      sub.messages.some((x) => x.topic.startsWith(`${BASE}/${vin(3)}/`)),
      'nothing published under it',
    );
  });
}

t.test('deploy/nginx.conf and deploy/haproxy-tls.cfg end mTLS in front of servers in tls.proxy mode', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const mosq = await startMosquitto(dir);
  t.teardown(() => mosq.stop());
  const servers = await proxiedServers(t, dir, pki, mosq.url);
  const sub = await subscribe(mosq.url, `${BASE}/#`);
  t.teardown(() => sub.close());
  const teslaCa = join(teslaCaDir(), 'production.pem');

  await t.test('nginx', { skip: NGINX ? false : 'nginx is not installed (scripts/test-deps.sh installs it)' }, async (t) => {
    const nginx = await startNginx(dir, {
      FT_PROXY_CERT: pki.serverCert,
      FT_PROXY_KEY: pki.serverKey,
      FT_TESLA_CA: teslaCa,
      FT_CA_FILE: pki.caFile,
      FT_SERVER1_ADDR: `127.0.0.1:${servers[0].port}`,
      FT_SERVER2_ADDR: `127.0.0.1:${servers[1].port}`,
    });
    t.teardown(() => nginx.stop());
    await proxyCases(t, 'nginx', nginx.port, pki, servers, sub, 300);
  });

  await t.test('haproxy', { skip: HAPROXY ? false : 'haproxy is not installed (scripts/test-deps.sh installs it)' }, async (t) => {
    const combined = join(dir, 'proxy-cert-and-key.pem');
    writeFileSync(combined, readFileSync(pki.serverCert, 'utf8') + readFileSync(pki.serverKey, 'utf8'));
    const lb = await startTlsLb(
      servers.map((s) => ({ port: s.port, statusPort: s.statusPort! })),
      { proxyCert: combined, teslaCa, caFile: pki.caFile },
    );
    t.teardown(() => lb.stop());
    await proxyCases(t, 'haproxy', lb.port, pki, servers, sub, 400);
  });

  await t.test('past the proxy: a forged header from outside trusted_proxies, and TLS, are refused', async (t) => {
    const forgedVin = '5YJ3E1EA7KF000501';
    const cert = await pki.vehicle(forgedVin);
    const forged = `GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${HEADER}: ${escapedPem(cert)}\r\n\r\n`;
    // 127.0.0.2 is loopback too, and not in trusted_proxies.
    const r = await rawExchange(servers[0].port, forged, { localAddress: '127.0.0.2' });
    t.ok(r.closed && r.received.length === 0, 'closed without an answer');
    await servers[0].waitForLog((l) => l.event === 'proxy_untrusted' && l.remote === '127.0.0.2');
    await t.rejects(connectVehicle(servers[1].port, cert, pki.ca.certPem), 'a vehicle connecting with TLS straight to a server is refused');
    await servers[1].waitForLog((l) => l.event === 'tls_at_plain_listener');
    t.notOk(
      servers.some((s) => s.logs.some((l) => l.event === 'vehicle_connected' && l.vin === forgedVin)),
      'no session either way',
    );
  });
});
