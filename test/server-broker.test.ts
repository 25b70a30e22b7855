import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate, createHash } from 'node:crypto';
import { issueCert } from '../src/tls/dev-certs.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { makePki } from './helpers/pki.js';
import { freePort, sleep } from './helpers/ports.js';
import { sendUntilAcked } from './helpers/resender.js';
import { brokerConnected, startServer } from './helpers/server.js';
import { subscribe } from './helpers/subscriber.js';
import { connectVehicle, vFrame } from './helpers/vehicle.js';

// The broker misbehaves; vehicles must never be acked for what it did not take, never be told to
// give a frame up, and the server must carry on without a restart.
const VIN = '5YJ3E1EA7KF000004';
const speed = (v: number) => [
  { key: 'VehicleSpeed', value: { float_value: v } },
  { key: 'Odometer', value: { double_value: v * 10 } },
];

function serverConfig(pki: Awaited<ReturnType<typeof makePki>>, broker: string, mqtt: Record<string, unknown> = {}) {
  return {
    records: { V: ['mqtt'] },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
    mqtt: { broker, topic_base: 'tb', qos: 1, publish_timeout_ms: 800, connect_retry_interval_ms: 200, connect_retry_max_interval_ms: 1000, ...mqtt },
  };
}

t.test('broker absent at start: frames unanswered, then acked once it comes up', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const port = await freePort();
  const server = await startServer(dir, serverConfig(pki, `127.0.0.1:${port}`));
  const v = await connectVehicle(server.port, await pki.vehicle(VIN), pki.ca.certPem);
  const frame = vFrame('early-1', VIN, speed(1));
  v.send(frame);
  await sleep(1500);
  t.equal(v.responses.length, 0, 'no response at all while the broker is away (no ack, no error)');
  t.ok(server.logs.filter((l) => l.event === 'mqtt_connecting').length >= 2, 'connection attempts are logged, one line each');
  t.ok(
    server.logs.some((l) => l.event === 'record_unacked' && l.txid === 'early-1'),
    'the unacked record is logged',
  );

  const mosq = await startMosquitto(dir, { port });
  const sub = await subscribe(mosq.url, 'tb/#');
  await brokerConnected(server);
  v.send(frame); // the vehicle's resend
  const r = await v.response('early-1');
  t.equal(r.kind, 'ack', 'the resent frame is acked with no restart');
  await sub.waitFor((m) => m.some((x) => x.topic === `tb/${VIN}/v/Odometer`));
  // The vehicle connected while the broker was away: its CONNECTED record follows once it is back.
  const connectivity = () => sub.messages.filter((x) => x.topic === `tb/${VIN}/connectivity`).map((x) => JSON.parse(x.payload) as Record<string, string>);
  await sub.waitFor(() => connectivity().some((c) => c.Status === 'CONNECTED'), 15_000, 'the CONNECTED record after the outage');
  const connected = connectivity().filter((c) => c.Status === 'CONNECTED');
  t.equal(connected.length, 1, 'published once');
  t.ok(Date.parse(connected[0].CreatedAt) <= Date.now() - 1000, `with the time of the connect (${connected[0].CreatedAt}), not of the publish`);
  await v.close();
  await sub.waitFor(() => connectivity().some((c) => c.Status === 'DISCONNECTED'), 5000, 'DISCONNECTED');
  t.equal(connectivity().find((c) => c.Status === 'DISCONNECTED')!.ConnectionId, connected[0].ConnectionId, 'the same connection id');
  t.equal(await server.stop(), 0);
  await sub.close();
  await mosq.stop();
});

t.test('broker paused past publish_timeout_ms: no response; acked on resend after it resumes', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const mosq = await startMosquitto(dir);
  const server = await startServer(dir, serverConfig(pki, mosq.url));
  await brokerConnected(server);
  const v = await connectVehicle(server.port, await pki.vehicle(VIN), pki.ca.certPem);
  v.send(vFrame('warm-1', VIN, speed(1)));
  t.equal((await v.response('warm-1')).kind, 'ack');

  mosq.pause();
  const frame = vFrame('stall-1', VIN, speed(2));
  v.send(frame);
  await sleep(1600);
  t.notOk(
    v.responses.some((r) => r.txid === 'stall-1'),
    'nothing sent back for a stalled publish',
  );
  t.ok(
    server.logs.some((l) => l.event === 'record_unacked' && l.txid === 'stall-1' && /within 800 ms/.test(String(l.reason))),
    'timed out on its own clock',
  );
  mosq.resume();
  const sub = await subscribe(mosq.url, 'tb/#');
  v.send(frame);
  t.equal((await v.response('stall-1')).kind, 'ack', 'acked once the vehicle resends');
  t.equal(v.responses.filter((r) => r.kind === 'error').length, 0, 'no error responses');
  await v.close();
  t.equal(await server.stop(), 0);
  await sub.close();
  await mosq.stop();
});

t.test('broker restarted mid-stream: every acked field reaches a persistent QoS 1 subscriber', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const mosq = await startMosquitto(dir, { persistent: true });
  const sub = await subscribe(mosq.url, 'tb/+/v/#', { clientId: 'persistent-sub', clean: false, qos: 1 });
  const server = await startServer(dir, serverConfig(pki, mosq.url));
  await brokerConnected(server);
  const v = await connectVehicle(server.port, await pki.vehicle(VIN), pki.ca.certPem);
  const frames = new Map<string, Uint8Array>();
  for (let i = 0; i < 60; i++) frames.set(`r-${i}`, vFrame(`r-${i}`, VIN, speed(i)));
  const restart = (async () => {
    await sleep(300);
    await mosq.restart();
  })();
  const result = await sendUntilAcked(v, frames, { resendMs: 1200, totalMs: 30_000, spacingMs: 15 });
  await restart;
  t.equal(result.acked.size, frames.size, `every frame ends acked (${result.resent} resends)`);
  t.equal(result.errors, 0, 'no error responses');
  t.ok(result.resent > 0, 'some frames needed a resend');
  await sub
    .waitFor((m) => new Set(m.filter((x) => x.topic.endsWith('/Odometer')).map((x) => x.payload)).size >= frames.size, 15_000, 'every acked field')
    .catch(() => {});
  const got = new Set(sub.messages.filter((x) => x.topic === `tb/${VIN}/v/VehicleSpeed`).map((x) => JSON.parse(x.payload).value));
  const missing = [...Array(60).keys()].filter((i) => !got.has(i));
  t.same(missing, [], 'zero acked-but-missing fields');
  await v.close();
  t.equal(await server.stop(), 0);
  await sub.close();
  await mosq.stop();
});

t.test('TLS to the broker: the right pin connects, a wrong one is refused and logged', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const brokerCert = await issueCert(pki.ca, { commonName: 'localhost', kind: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  writeFileSync(join(dir, 'broker.pem'), brokerCert.certPem);
  writeFileSync(join(dir, 'broker.key'), brokerCert.keyPem);
  const port = await freePort();
  const mosq = await startMosquitto(dir, {
    port,
    listener: [`listener ${port} 127.0.0.1`, `cafile ${pki.caFile}`, `certfile ${join(dir, 'broker.pem')}`, `keyfile ${join(dir, 'broker.key')}`].join('\n'),
  });
  const spki = new X509Certificate(brokerCert.certPem).publicKey.export({ type: 'spki', format: 'der' });
  const pin = createHash('sha256').update(spki).digest('base64');

  const good = await startServer(dir, serverConfig(pki, `mqtts://localhost:${port}`, { tls: { ca_file: pki.caFile, pin_sha256: pin } }));
  await good.waitForLog((l) => l.event === 'mqtt_connected');
  const v = await connectVehicle(good.port, await pki.vehicle(VIN), pki.ca.certPem);
  v.send(vFrame('tls-1', VIN, speed(1)));
  t.equal((await v.response('tls-1')).kind, 'ack', 'acked over mqtts with the right pin');
  await v.close();
  t.equal(await good.stop(), 0);

  const wrongPin = createHash('sha256').update('not the key').digest('base64');
  const bad = await startServer(dir, serverConfig(pki, `mqtts://localhost:${port}`, { tls: { ca_file: pki.caFile, pin_sha256: wrongPin } }));
  const line = await bad.waitForLog((l) => l.event === 'mqtt_socket_error' && typeof l.pin_seen === 'string');
  t.equal(line.pin_seen, `sha256/${pin}`, 'the log shows the pin seen');
  t.notOk(
    bad.logs.some((l) => l.event === 'mqtt_connected'),
    'never connected',
  );
  const v2 = await connectVehicle(bad.port, await pki.vehicle(VIN), pki.ca.certPem);
  v2.send(vFrame('tls-2', VIN, speed(2)));
  await sleep(1200);
  t.equal(v2.responses.length, 0, 'frames stay unanswered');
  await v2.close();
  t.equal(await bad.stop(), 0);
  await mosq.stop();
});

t.test('SIGTERM with frames in flight: each is acked or unanswered, exit 0, close frame sent', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const mosq = await startMosquitto(dir);
  const sub = await subscribe(mosq.url, '#');
  const server = await startServer(dir, serverConfig(pki, mosq.url, { publish_timeout_ms: 2000, client_id: 'ft.host.example' }));
  await brokerConnected(server);
  const v = await connectVehicle(server.port, await pki.vehicle(VIN), pki.ca.certPem);
  for (let i = 0; i < 200; i++) v.send(vFrame(`term-${i}`, VIN, speed(i)));
  await v.response('term-0');
  const code = await server.stop('SIGTERM');
  t.equal(code, 0, 'exit 0');
  const closed = await v.closed;
  t.equal(closed.code, 1001, 'vehicle sockets closed with a close frame (1001 going away)');
  t.equal(v.responses.filter((r) => r.kind === 'error').length, 0, 'no error responses');
  const acked = v.responses.filter((r) => r.kind === 'ack').map((r) => Number(r.txid.slice(5)));
  t.ok(acked.length > 0, `${acked.length} of 200 acked before the stop`);
  await sleep(300);
  const got = new Set(sub.messages.filter((x) => x.topic === `tb/${VIN}/v/VehicleSpeed`).map((x) => JSON.parse(x.payload).value));
  t.same(
    acked.filter((i) => !got.has(i)),
    [],
    'every acked frame was delivered',
  );
  // With workers (make test-workers) each worker has its own status topic, its client id suffixed -w<k>.
  const statusTopics = [...new Set(sub.messages.map((m) => m.topic).filter((x) => /^fleet-telemetry\/ft_host_example(-w\d+)?\/status$/.test(x)))];
  t.ok(statusTopics.length >= 1, `a status topic (${statusTopics.join(', ')})`);
  for (const topic of statusTopics) {
    const status = sub.messages.filter((m) => m.topic === topic).map((m) => m.payload);
    t.same(status.slice(-1), ['offline'], `offline status published on shutdown, outside topic_base, the dotted client id a safe level (${topic})`);
    t.ok(status.includes('online'), `online status published on connect (${topic})`);
  }
  t.same(
    sub.messages.filter((m) => !m.topic.startsWith(`tb/${VIN}/`) && !m.topic.startsWith('fleet-telemetry/')).map((m) => m.topic),
    [],
    "every other topic is the vehicle's",
  );
  await sub.close();
  await mosq.stop();
});

t.test('QoS 0 and QoS 2: acked once written / once PUBCOMP arrives, fields delivered', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const mosq = await startMosquitto(dir);
  // The subscriber takes QoS 1: what is tested is the server's QoS 2 flow with the broker.
  const sub = await subscribe(mosq.url, 'tb/#', { qos: 1 });
  for (const qos of [0, 2]) {
    const server = await startServer(dir, serverConfig(pki, mosq.url, { qos }));
    await brokerConnected(server);
    const v = await connectVehicle(server.port, await pki.vehicle(VIN), pki.ca.certPem);
    for (let i = 0; i < 20; i++) v.send(vFrame(`q${qos}-${i}`, VIN, speed(1000 * qos + i)));
    await Promise.all(Array.from({ length: 20 }, (_, i) => v.response(`q${qos}-${i}`)));
    t.ok(
      v.responses.every((r) => r.kind === 'ack'),
      `QoS ${qos}: every frame acked`,
    );
    await sub.waitFor(
      (m) =>
        m.filter((x) => x.topic === `tb/${VIN}/v/VehicleSpeed` && JSON.parse(x.payload).value >= 1000 * qos && JSON.parse(x.payload).value < 1000 * qos + 20)
          .length >= 20,
      5000,
      `QoS ${qos} fields`,
    );
    t.ok(
      sub.messages.some((x) => x.topic === `tb/${VIN}/v/Odometer` && x.qos === Math.min(qos, 1)),
      `published at QoS ${qos}`,
    );
    await v.close();
    t.equal(await server.stop(), 0);
  }
  await sub.close();
  await mosq.stop();
});
