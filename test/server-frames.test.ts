import { randomUUID } from 'node:crypto';
import t from 'tap';
import { request as httpsRequest } from 'node:https';
import { get as httpGet } from 'node:http';
import { writeOtherFrame, writeStreamFrame } from '../src/envelope/index.js';
import { makePki } from './helpers/pki.js';
import { startServer, type ServerProcess } from './helpers/server.js';
import { subscribe, type Subscriber } from './helpers/subscriber.js';
import { connectVehicle, vFrame, vPayload } from './helpers/vehicle.js';
import { sleep, waitUntil } from './helpers/ports.js';
import { issueCert } from '../src/tls/dev-certs.js';

// What each kind of frame gets (contract §3), through the real CLI on the embedded broker.
const VIN = '5YJ3E1EA7KF000002';
const dir = t.testdir();
let pki: Awaited<ReturnType<typeof makePki>>;
let server: ServerProcess;
let sub: Subscriber;

t.before(async () => {
  pki = await makePki(dir);
  server = await startServer(dir, {
    status_port: 0,
    records: { V: ['mqtt'], alerts: ['mqtt'], errors: ['mqtt'] },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
    mqtt: { broker: 'embedded', embedded_port: 0, topic_base: 'tt', qos: 1 },
  });
  await server.waitForLog((l) => l.event === 'mqtt_connected');
  sub = await subscribe(`mqtt://127.0.0.1:${server.brokerPort}`, 'tt/#');
});

t.teardown(async () => {
  await sub?.close();
  await server?.stop();
});

const speed = (v: number) => [{ key: 'VehicleSpeed', value: { float_value: v } }];

t.test('pipelined frames: each gets exactly one ack, matched by txid', async (t) => {
  const v = await connectVehicle(server.port, await pki.vehicle(VIN), pki.ca.certPem);
  const n = 100;
  for (let i = 0; i < n; i++) v.send(vFrame(`pipe-${i}`, VIN, speed(i)));
  await Promise.all(Array.from({ length: n }, (_, i) => v.response(`pipe-${i}`)));
  await sleep(200);
  t.equal(v.responses.length, n, 'one response per frame');
  t.ok(
    v.responses.every((r) => r.kind === 'ack' && r.topic === 'V'),
    'all acks with topic V',
  );
  t.equal(new Set(v.responses.map((r) => r.txid)).size, n, 'every txid answered once');
  await sub.waitFor((m) => m.filter((x) => x.topic === `tt/${VIN}/v/VehicleSpeed`).length >= n, 5000);
  const values = sub.messages.filter((x) => x.topic === `tt/${VIN}/v/VehicleSpeed`).map((x) => JSON.parse(x.payload).value);
  t.same(
    [...values].sort((a, b) => a - b),
    Array.from({ length: n }, (_, i) => i),
    'every value published',
  );
  await v.close();
});

t.test('frames wrong in themselves get an error; the connection stays usable', async (t) => {
  const v = await connectVehicle(server.port, await pki.vehicle(VIN), pki.ca.certPem);
  const big = writeStreamFrame({ txid: 'big-1', recordType: 'V', payload: new Uint8Array(1_000_001) });
  v.send(big);
  const r1 = await v.response('big-1');
  t.equal(r1.kind, 'error', 'oversize frame: error');
  t.match(r1.reason, /exceeds/);

  v.send(Buffer.from('this is not a flatbuffer at all'));
  v.send(Buffer.alloc(0));
  await sleep(300);
  const anonymous = v.responses.filter((r) => r.txid === '');
  t.equal(anonymous.length, 2, 'garbage and empty frames: errors with an empty txid');
  t.ok(anonymous.every((r) => r.kind === 'error' && r.topic === ''));

  v.send(writeOtherFrame('other-1', 'V', 5));
  const r2 = await v.response('other-1');
  t.equal(r2.kind, 'ack', 'non-Stream message: ack');
  t.equal(r2.topic, '', 'with an empty topic');

  v.send(writeStreamFrame({ txid: 'unrouted-1', recordType: 'connectivity', payload: new Uint8Array(0) }));
  const r3 = await v.response('unrouted-1');
  t.equal(r3.kind, 'ack', 'a vehicle-sent connectivity record goes where V goes and is acked');

  v.send(writeStreamFrame({ txid: 'nobody-1', recordType: 'metrics', payload: new Uint8Array([1, 2, 3]) }));
  const r4 = await v.response('nobody-1');
  t.equal(r4.kind, 'ack', 'unconfigured record type: ack');
  t.equal(r4.topic, 'metrics');

  v.send(vFrame('after-1', VIN, speed(1)));
  t.equal((await v.response('after-1')).kind, 'ack', 'a good frame after all that is acked');
  await v.close();
});

t.test('a text frame closes the connection with 1003', async (t) => {
  const v = await connectVehicle(server.port, await pki.vehicle(VIN), pki.ca.certPem);
  v.ws.send('hello');
  const { code } = await v.closed;
  t.equal(code, 1003);
});

t.test('sender_id never decides the VIN, nor refuses a frame', async (t) => {
  // This connection's lines by its id: an earlier test's connection of the same VIN may log its
  // vehicle_disconnected late, after logsFrom, on a busy machine.
  const id = randomUUID();
  const logsFrom = server.logs.length;
  const v = await connectVehicle(server.port, await pki.vehicle(VIN), pki.ca.certPem, { headers: { 'x-txid': id } });
  const before = sub.messages.length;
  for (const txid of ['spoof-1', 'spoof-2']) {
    v.send(writeStreamFrame({ txid, recordType: 'V', payload: vPayload(speed(7), 'OTHERVIN'), senderId: 'vehicle_device.OTHERVIN' }));
  }
  t.equal((await v.response('spoof-1')).kind, 'ack');
  t.equal((await v.response('spoof-2')).kind, 'ack');
  await sub.waitFor((m) => m.slice(before).filter((x) => x.topic.endsWith('/v/VehicleSpeed')).length >= 2);
  const topics = sub.messages.slice(before).map((m) => m.topic);
  t.ok(topics.includes(`tt/${VIN}/v/VehicleSpeed`), 'published under the certificate VIN');
  t.notOk(
    topics.some((x) => x.includes('OTHERVIN')),
    'never under the frame VIN',
  );
  await v.close();
  // Log lines arrive asynchronously; the connection's last line means every earlier one is in.
  await waitUntil(() => server.logs.slice(logsFrom).some((l) => l.event === 'vehicle_disconnected' && l.connection_id === id), 10_000, 'vehicle_disconnected');
  const warns = server.logs.slice(logsFrom).filter((l) => l.event === 'sender_id_mismatch' && l.connection_id === id);
  t.equal(warns.length, 1, 'logged once per connection');
  t.equal(warns[0].vin, VIN);
});

t.test('VIN from the certificate CN with dots as dashes', async (t) => {
  const cert = await issueCert(pki.ca, { commonName: 'fleet.device-7', kind: 'client' });
  const v = await connectVehicle(server.port, cert, pki.ca.certPem);
  v.send(vFrame('dots-1', 'x', speed(3)));
  t.equal((await v.response('dots-1')).kind, 'ack');
  await sub.waitFor((m) => m.some((x) => x.topic === 'tt/fleet-device-7/v/VehicleSpeed'), 5000, 'publish under fleet-device-7');
  t.pass('published under tt/fleet-device-7/');
  await v.close();
});

t.test('a CN that would need sanitising is refused at the upgrade with 403 and a warn line', async (t) => {
  // AB+CD, AB#CD and AB<NUL>CD would all have become AB_CD: one holder could write another's topics.
  for (const cn of ['AB+CD', 'AB#CD', 'AB CD', 'AB/CD', 'ÄB', 'AB\u0001CD']) {
    const cert = await issueCert(pki.ca, { commonName: cn, kind: 'client' });
    const err = await connectVehicle(server.port, cert, pki.ca.certPem).then(
      () => undefined,
      (e: Error) => e,
    );
    t.match(err?.message, /Unexpected server response: 403/, `${JSON.stringify(cn)}: 403`);
    const line = await server.waitForLog((l) => l.event === 'vehicle_refused' && l.cn === JSON.stringify(cn).slice(1, -1));
    t.equal(line.level, 40, 'at warn');
    t.match(line.issuer, /CN=/, 'names the issuer');
    t.match(line.reason, /A-Za-z0-9_-/, 'says why');
  }
  t.notOk(
    sub.messages.some((m) => m.topic.startsWith('tt/AB')),
    'nothing published for any of them',
  );
});

t.test('X-TXID becomes the connection id of the connectivity records', async (t) => {
  const before = sub.messages.length;
  const id = '9F0C1D2E-3B4A-4C5D-8E6F-708192A3B4C5';
  const v = await connectVehicle(server.port, await pki.vehicle(VIN), pki.ca.certPem, {
    headers: { 'X-TXID': id, Version: '2024.44.25', 'X-Network-Interface': 'wifi' },
  });
  await sub.waitFor((m) => m.slice(before).some((x) => x.topic === `tt/${VIN}/connectivity`));
  const c = JSON.parse(sub.messages.slice(before).find((x) => x.topic === `tt/${VIN}/connectivity`)!.payload);
  t.same(Object.keys(c).sort(), ['ConnectionId', 'CreatedAt', 'Status']);
  t.equal(c.ConnectionId, id.toLowerCase());
  t.equal(c.Status, 'CONNECTED');
  t.match(c.CreatedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  await v.close();
  const mine = (x: { topic: string; payload: string }) =>
    x.topic === `tt/${VIN}/connectivity` && x.payload.includes('DISCONNECTED') && x.payload.includes(id.toLowerCase());
  await sub.waitFor((m) => m.slice(before).some(mine), 5000, 'DISCONNECTED with the same connection id');
  t.pass('DISCONNECTED carries the same connection id');
});

t.test('GET /status over mTLS and on the plain status port', async (t) => {
  const vehicle = await pki.vehicle(VIN);
  const body = await new Promise<{ status?: number; text: string }>((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port: server.port, path: '/status', servername: 'localhost', ca: pki.ca.certPem, cert: vehicle.certPem, key: vehicle.keyPem },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode, text }));
      },
    );
    req.on('error', reject);
    req.end();
  });
  t.same(body, { status: 200, text: 'mtls ok' });
  const plain = await new Promise<{ status?: number; text: string }>((resolve, reject) => {
    httpGet({ host: '127.0.0.1', port: server.statusPort, path: '/status' }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode, text }));
    }).on('error', reject);
  });
  t.same(plain, { status: 200, text: 'ok' });
});

t.test('SIGTERM: the server exits 0', async (t) => {
  t.equal(await server.stop(), 0);
  t.ok(
    server.logs.some((l) => l.event === 'stopped'),
    'logs that it stopped',
  );
});
