import t from 'tap';
import type { Test } from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConformance } from './helpers/fixtures.js';
import { caseRecord, expectedPlain, plainMessage, vDatumMismatches } from './helpers/dispatch-expect.js';
import { makePki, type TestPki } from './helpers/pki.js';
import { REDIS_SERVER, startRedis, startRedisCluster, subscribeRedis, type RedisServer, type RedisTlsFiles } from './helpers/redis.js';
import { startServer, type ServerProcess } from './helpers/server.js';
import { connectVehicle, vFrame } from './helpers/vehicle.js';
import { sleep } from './helpers/ports.js';
import { issueCert } from '../src/tls/dev-certs.js';

// Tesla's redis dispatcher (datastore/redis/redis.go): each record's protobuf message, with the
// certificate's VIN set and Tesla's transforms applied, PUBLISHed on
// `<namespace>_<record type>_{<VIN>}`. A real redis-server, alone, as a 3-primary cluster and
// with TLS; a real consumer on PSUBSCRIBE.

const conformance = loadConformance();
const VIN = conformance.vin;
const NS = 'tesla_telemetry';
const ALL = { V: ['redis'], alerts: ['redis'], errors: ['redis'], connectivity: ['redis'] };

if (!REDIS_SERVER) t.fail('redis-server is not installed: run scripts/test-deps.sh');

/** A folder the redis-servers use until their teardown: removed after it (teardowns run last-in, first-out). */
function workDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'ft-redis-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The server routing every record to redis; by default once it has connected to Redis. */
async function serve(
  t: Test,
  dir: string,
  pki: TestPki,
  redis: Record<string, unknown>,
  extra: Record<string, unknown> = {},
  connected = true,
): Promise<ServerProcess> {
  const server = await startServer(dir, {
    namespace: NS,
    records: ALL,
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
    redis: { publish_vin_topics: true, ...redis },
    ...extra,
  });
  t.teardown(() => server.stop().catch(() => undefined));
  if (connected) await server.waitForLog((l) => l.event === 'redis_connected', 30_000);
  return server;
}

/** Every public vector through the server: what the consumer reads is what Tesla's dispatcher sends. */
async function vectorsThrough(t: Test, server: ServerProcess, pki: TestPki, subPort: number, tls?: RedisTlsFiles) {
  const sub = await subscribeRedis(subPort, { tls });
  t.teardown(() => sub.close());
  const vehicle = await connectVehicle(server.port, await pki.vehicle(VIN), pki.ca.certPem, { headers: { Version: '2024.44.25' } });
  const channel = (type: string) => `${NS}_${type}_{${VIN}}`;
  await sub.waitFor((m) => m.some((x) => x.channel === channel('connectivity')), 10_000, 'the CONNECTED record');
  const connected = plainMessage('connectivity', sub.messages.find((x) => x.channel === channel('connectivity'))!.value);
  t.equal(connected.vin, VIN, 'connectivity: vin');
  t.equal(connected.status, 'CONNECTED');

  for (const c of conformance.cases) {
    const before = sub.messages.length;
    vehicle.send(Buffer.from(c.frame_b64, 'base64'));
    const r = await vehicle.response(c.expect.txid, 15_000);
    t.equal(r.kind, c.expect.response, `${c.name}: response`);
    const rec = caseRecord(c);
    if (c.expect.response !== 'ack' || !rec) {
      await sleep(300);
      t.equal(sub.messages.length, before, `${c.name}: nothing published`);
      continue;
    }
    await sub.waitFor((m) => m.length > before, 10_000, `${c.name}: a message`);
    const got = sub.messages.slice(before);
    t.same(
      got.map((m) => m.channel),
      [channel(rec.type)],
      `${c.name}: one message on Tesla's VIN channel`,
    );
    const plain = plainMessage(rec.type, got[0].value);
    t.same(plain, expectedPlain(c), `${c.name}: the message Tesla's dispatcher sends, field by field`);
    t.equal(plain.vin, VIN, `${c.name}: vin set from the certificate`);
    if (rec.type === 'V') t.same(vDatumMismatches(c, plain), [], `${c.name}: every datum says what the vector says`);
  }
  await vehicle.close();
  await sub.waitFor(
    (m) => m.some((x) => x.channel === channel('connectivity') && plainMessage('connectivity', x.value).status === 'DISCONNECTED'),
    10_000,
    'the DISCONNECTED record',
  );
}

t.test('conformance vectors through a redis-server alone', async (t) => {
  const dir = workDir(t);
  const pki = await makePki(join(dir, 'pki'));
  const redis = await startRedis(dir);
  t.teardown(() => redis.stop());
  const server = await serve(t, dir, pki, { addrs: [`127.0.0.1:${redis.port}`] });
  await vectorsThrough(t, server, pki, redis.port);
});

t.test('conformance vectors through a 3-primary Redis Cluster (cluster_mode)', async (t) => {
  const dir = workDir(t);
  const pki = await makePki(join(dir, 'pki'));
  const nodes = await startRedisCluster(dir);
  t.teardown(async () => {
    for (const n of nodes) await n.stop();
  });
  const server = await serve(t, dir, pki, { addrs: [`127.0.0.1:${nodes[1].port}`], cluster_mode: true });
  // Classic pub/sub reaches every node of a cluster: the consumer listens on another one.
  await vectorsThrough(t, server, pki, nodes[2].port);
});

t.test('TLS: a redis-server that speaks only TLS, verified against ca_file', async (t) => {
  const dir = workDir(t);
  const pki = await makePki(join(dir, 'pki'));
  const files: RedisTlsFiles = { cert: pki.serverCert, key: pki.serverKey, ca: pki.caFile };
  const redis = await startRedis(dir, { tls: files });
  t.teardown(() => redis.stop());
  const server = await serve(t, dir, pki, { addrs: [`127.0.0.1:${redis.port}`], tls: { ca_file: pki.caFile } });
  await vectorsThrough(t, server, pki, redis.port, files);
});

t.test("TLS cluster: each node verified for the first address's name only with override_tls_server_name", async (t) => {
  const dir = workDir(t);
  const pki = await makePki(join(dir, 'pki'));
  // The nodes' certificate names localhost and no address: the cluster announces its nodes as
  // 127.0.0.1, which the certificate does not name, so only the override makes them match.
  const cert = await issueCert(pki.ca, { commonName: 'localhost', kind: 'server', dnsNames: ['localhost'] });
  const bus = await issueCert(pki.ca, { commonName: 'redis-node', kind: 'client' });
  const file = (name: string, pem: string) => {
    writeFileSync(join(dir, name), pem);
    return join(dir, name);
  };
  const files: RedisTlsFiles = {
    cert: file('redis.pem', cert.certPem),
    key: file('redis.key', cert.keyPem),
    ca: pki.caFile,
    client: { cert: file('bus.pem', bus.certPem), key: file('bus.key', bus.keyPem) },
  };
  const nodes = await startRedisCluster(dir, { tls: files });
  t.teardown(async () => {
    for (const n of nodes) await n.stop();
  });
  const redis = { addrs: [`localhost:${nodes[0].port}`], cluster_mode: true, tls: { ca_file: pki.caFile } };

  const unnamed = await serve(t, dir, pki, redis, {}, false);
  const refused = await unnamed.waitForLog((l) => l.event === 'redis_error', 30_000);
  t.match(String(refused.err), /IP: 127\.0\.0\.1 is not in the cert's list/, 'without the override: the handshake with a node at 127.0.0.1 fails on its name');
  t.notOk(
    unnamed.logs.some((l) => l.event === 'redis_connected'),
    'without the override: never connected',
  );
  t.equal(await unnamed.stop(), 0, 'the server without the override exits 0');

  const server = await serve(t, dir, pki, { ...redis, override_tls_server_name: true });
  t.pass('with the override: connected to every node');
  await vectorsThrough(t, server, pki, nodes[2].port, files);
});

t.test('subscriber sets: live channels get the record, expired leases are removed first', async (t) => {
  const dir = workDir(t);
  const pki = await makePki(join(dir, 'pki'));
  const redis = await startRedis(dir);
  t.teardown(() => redis.stop());
  const { createClient } = await import('@redis/client');
  const admin = createClient({ socket: { host: '127.0.0.1', port: redis.port } });
  admin.on('error', () => {});
  await admin.connect();
  t.teardown(() => admin.destroy());
  const setKey = `consumer_${NS}_V_{${VIN}}`;
  const now = Math.floor(Date.now() / 1000);
  await admin.zAdd(setKey, [
    { score: now + 3600, value: 'live-a' },
    { score: now + 3600, value: 'live-b' },
    { score: now - 10, value: 'expired' },
  ]);
  const server = await serve(
    t,
    dir,
    pki,
    { addrs: [`127.0.0.1:${redis.port}`], publish_vin_topics: false, subscriber_set_prefix: 'consumer' },
    { records: { V: ['redis'] } },
  );
  const sub = await subscribeRedis(redis.port);
  t.teardown(() => sub.close());
  const vehicle = await connectVehicle(server.port, await pki.vehicle(VIN), pki.ca.certPem);
  vehicle.send(vFrame('set-1', VIN, [{ key: 'VehicleName', value: { string_value: 'fan-out' } }]));
  t.equal((await vehicle.response('set-1', 15_000)).kind, 'ack');
  await sub.waitFor((m) => m.length >= 2, 10_000, 'two messages');
  await sleep(300);
  t.same(sub.messages.map((m) => m.channel).sort(), ['live-a', 'live-b'], 'the live channels only, no VIN channel');
  t.same(await admin.zRange(setKey, 0, -1), ['live-a', 'live-b'], 'the expired lease is gone from the set');
  await vehicle.close();
});

t.test('Redis killed: frames go unacked, nothing acked is lost, acks resume when it is back', async (t) => {
  const dir = workDir(t);
  const pki = await makePki(join(dir, 'pki'));
  const redis: RedisServer = await startRedis(dir);
  t.teardown(() => redis.stop());
  const server = await serve(
    t,
    dir,
    pki,
    { addrs: [`127.0.0.1:${redis.port}`], publish_timeout: 2_000_000_000 },
    { records: { V: ['redis'] }, status_port: 0 },
  );
  const statusPort = (server.logs.find((l) => l.event === 'listening')?.status_port as number | undefined) ?? server.statusPort;
  const readyz = async () => (await fetch(`http://127.0.0.1:${statusPort}/readyz`)).status;
  let sub = await subscribeRedis(redis.port);
  t.teardown(() => sub.close());
  const vehicle = await connectVehicle(server.port, await pki.vehicle(VIN), pki.ca.certPem);
  const acked = new Set<string>();
  const send = (txid: string) => vehicle.send(vFrame(txid, VIN, [{ key: 'VehicleName', value: { string_value: txid } }]));
  const outcome = async (txid: string, ms: number) => {
    try {
      const r = await vehicle.response(txid, ms);
      if (r.kind === 'ack') acked.add(txid);
      return r.kind;
    } catch {
      return 'none';
    }
  };
  for (let i = 0; i < 20; i++) send(`up-${i}`);
  for (let i = 0; i < 20; i++) t.equal(await outcome(`up-${i}`, 15_000), 'ack', `up-${i} acked`);
  t.equal(await readyz(), 200, 'ready while Redis answers');
  const names = (msgs: { channel: string; value: Buffer }[]) =>
    new Set(
      msgs
        .filter((m) => m.channel === `${NS}_V_{${VIN}}`)
        .map((m) => String((plainMessage('V', m.value).data as { value?: { string_value?: string } }[])[0]?.value?.string_value ?? '')),
    );
  await sub.waitFor((m) => names(m).size >= 20, 10_000, 'the 20 acked records');
  const seen = names(sub.messages);
  await sub.close();

  await redis.kill();
  await server.waitForLog((l) => l.event === 'redis_disconnected', 10_000);
  for (let i = 0; i < 5; i++) send(`down-${i}`);
  for (let i = 0; i < 5; i++) t.equal(await outcome(`down-${i}`, 3000), 'none', `down-${i}: no answer while Redis is down (the vehicle resends)`);
  t.equal(await readyz(), 503, '/readyz not ready while Redis is down');

  await redis.start();
  sub = await subscribeRedis(redis.port);
  await server
    .waitForLog((l) => l.event === 'redis_connected' && server.logs.filter((x) => x.event === 'redis_connected').length >= 2, 30_000)
    .catch(() => undefined);
  await (async () => {
    for (let i = 0; i < 100 && (await readyz()) !== 200; i++) await sleep(200);
  })();
  t.equal(await readyz(), 200, 'ready again once Redis is back');
  // The vehicle resends what went unanswered, as vehicles do.
  vehicle.responses.length = 0;
  for (let i = 0; i < 5; i++) send(`down-${i}`);
  for (let i = 0; i < 5; i++) t.equal(await outcome(`down-${i}`, 15_000), 'ack', `down-${i} acked after the restart`);
  await sub.waitFor((m) => names(m).size >= 5, 10_000, 'the resent records');
  for (const n of names(sub.messages)) seen.add(n);
  const missing = [...acked].filter((x) => !seen.has(x));
  t.same(missing, [], '0 acked frames missing at the consumer');
  t.equal(acked.size, 25);
  await vehicle.close();
});
