import t, { type Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { caseRecord, expectedJson } from './helpers/dispatch-expect.js';
import { loadConformance } from './helpers/fixtures.js';
import { startKafkaMock } from './helpers/kafka-mock.js';
import { kcatProduce, kcatRead, type KafkaRead } from './helpers/kcat.js';
import { makePki } from './helpers/pki.js';
import { freePort, sleep, waitUntil } from './helpers/ports.js';
import { startServer } from './helpers/server.js';
import { expectedDispatch, plain } from './helpers/tesla-expect.js';
import { resendUntilAcked } from './helpers/resender.js';
import { sendVectors } from './helpers/vectors.js';
import { connectVehicle, vFrame } from './helpers/vehicle.js';

// The kafka producer against a real Kafka protocol server (librdkafka's mock cluster, 3 brokers),
// read back by kcat (librdkafka, the library Tesla's server produces with).
const conformance = loadConformance();
const NAMESPACE = 'tesla_telemetry';
const CLIENT_VERSION = '2024.44.25.7';

/** A folder the processes use until their teardowns ran (tap removes t.testdir() before them). */
function ownDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'ft-kafka-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// One cluster for the vector runs (each in its own namespace); the outage tests take their own.
const shared = await startKafkaMock(3);
t.teardown(() => shared.stop());

/** A server sending every record type to the shared cluster, connected. */
async function vectorServer(t: Test, dir: string, namespace: string, extra: Record<string, unknown> = {}) {
  const pki = await makePki(dir);
  const server = await startServer(dir, {
    namespace,
    records: { V: ['kafka'], alerts: ['kafka'], errors: ['kafka'], connectivity: ['kafka'] },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
    kafka: { 'bootstrap.servers': shared.bootstrap, 'queue.buffering.max.ms': 5 },
    ...extra,
  });
  t.teardown(() => server.stop().catch(() => {}));
  await server.waitForLog((l) => l.event === 'kafka_connected', 20_000);
  return { pki, server };
}

t.test('every vector through the server reaches Kafka as Tesla sends it', async (t) => {
  const dir = ownDir(t);
  const { pki, server } = await vectorServer(t, dir, NAMESPACE);

  const vehicle = await connectVehicle(server.port, await pki.vehicle(conformance.vin), pki.ca.certPem, { headers: { version: CLIENT_VERSION } });
  const sentAt = Date.now();
  await sendVectors(t, vehicle, conformance.cases);
  await vehicle.close();

  // Where librdkafka's default partitioner puts this VIN, told by kcat itself.
  const probe = await kcatProduce(shared.bootstrap, `${NAMESPACE}_probe`, conformance.vin, 'probe');
  const read = new Map<string, KafkaRead[]>();
  for (const type of ['V', 'alerts', 'errors', 'connectivity']) read.set(type, await kcatRead(shared.bootstrap, `${NAMESPACE}_${type}`));

  for (const c of conformance.cases) {
    const want = expectedDispatch(c, conformance.vin);
    const topic = `${NAMESPACE}_${c.expect.topic}`;
    const got = (read.get(c.expect.topic ?? '') ?? []).filter((m) => m.headers.txid === c.expect.txid);
    if (!want) {
      t.equal(got.length, 0, `${c.name}: nothing sent to Kafka`);
      continue;
    }
    t.equal(got.length, 1, `${c.name}: one message on ${topic}`);
    const m = got[0];
    if (!m) continue;
    t.equal(m.key.toString('utf8'), conformance.vin, `${c.name}: keyed by VIN`);
    t.equal(m.partition, probe.partition, `${c.name}: the partition librdkafka picks for the VIN`);
    t.equal(m.partition, crc32(Buffer.from(conformance.vin)) % 4, `${c.name}: CRC-32 of the key modulo the 4 partitions`);
    const receivedAt = Number(m.headers.receivedat);
    t.ok(receivedAt >= sentAt - 1000 && receivedAt <= Date.now(), `${c.name}: receivedat is when the frame came (${m.headers.receivedat})`);
    t.same(
      { ...m.headers, receivedat: undefined },
      {
        vin: conformance.vin,
        receivedat: undefined,
        timestamp: '0',
        txid: c.expect.txid,
        txtype: want.recordType,
        version: '0',
        device_client_version: CLIENT_VERSION,
      },
      `${c.name}: Tesla's headers`,
    );
    t.same(plain(want.recordType, m.value), want.message, `${c.name}: the value, field by field`);
  }

  // Connectivity records: the connection's id as txid, status and VIN in the message.
  const conn = read.get('connectivity')!;
  const statuses = conn.map((m) => plain('connectivity', m.value));
  t.same(
    statuses.map((s) => s.status),
    ['CONNECTED', 'DISCONNECTED'],
    'connectivity: CONNECTED then DISCONNECTED',
  );
  for (const [i, m] of conn.entries()) {
    t.equal(statuses[i].vin, conformance.vin, 'connectivity: vin set');
    t.equal(m.headers.txid, statuses[i].connection_id, 'connectivity: txid header is the connection id');
    t.equal(m.headers.txtype, 'connectivity');
  }
  t.equal(await server.stop(), 0, 'server exits 0');
});

t.test("transmit_decoded_records: every vector reaches Kafka as Tesla's JSON", async (t) => {
  const dir = ownDir(t);
  const ns = 'decoded';
  const { pki, server } = await vectorServer(t, dir, ns, { transmit_decoded_records: true });
  const vehicle = await connectVehicle(server.port, await pki.vehicle(conformance.vin), pki.ca.certPem);
  await sendVectors(t, vehicle, conformance.cases);
  await vehicle.close();

  const read = new Map<string, KafkaRead[]>();
  for (const type of ['V', 'alerts', 'errors']) read.set(type, await kcatRead(shared.bootstrap, `${ns}_${type}`));
  for (const c of conformance.cases) {
    const rec = caseRecord(c);
    if (c.expect.response !== 'ack' || !rec) continue;
    const got = (read.get(rec.type) ?? []).filter((m) => m.headers.txid === c.expect.txid);
    t.equal(got.length, 1, `${c.name}: one message on ${ns}_${rec.type}`);
    if (!got[0]) continue;
    t.equal(got[0].key.toString('utf8'), conformance.vin, `${c.name}: keyed by VIN`);
    t.equal(got[0].headers.txtype, rec.type, `${c.name}: Tesla's headers as without it`);
    const have = JSON.parse(got[0].value.toString('utf8')) as Record<string, unknown>;
    t.same(have, expectedJson(c), `${c.name}: Tesla's JSON of the record`);
    t.equal(have.vin, conformance.vin, `${c.name}: vin set`);
  }
  t.equal(await server.stop(), 0, 'server exits 0');
});

t.test('all brokers down: nothing acked while down, acks resume after, no acked frame missing', async (t) => {
  const dir = ownDir(t);
  const kafka = await startKafkaMock(3);
  t.teardown(() => kafka.stop());
  const pki = await makePki(dir);
  const statusPort = await freePort();
  const server = await startServer(dir, {
    namespace: 'outage',
    status_port: statusPort,
    records: { V: ['kafka'] },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
    kafka: { 'bootstrap.servers': kafka.bootstrap, 'request.timeout.ms': 2000, 'retry.backoff.max.ms': 300 },
  });
  t.teardown(() => server.stop().catch(() => {}));
  await server.waitForLog((l) => l.event === 'kafka_connected', 20_000);
  const readyz = async () => (await fetch(`http://127.0.0.1:${statusPort}/readyz`)).status;
  t.equal(await readyz(), 200, 'ready while the cluster is up');

  const vin = conformance.vin;
  const vehicle = await connectVehicle(server.port, await pki.vehicle(vin), pki.ca.certPem);
  const frames = new Map<string, Uint8Array>();
  const sentAt = new Map<string, number>();
  let n = 0;
  const send = (phase: string) => {
    const txid = `${phase}-${n++}`;
    const f = vFrame(txid, vin, [{ key: 'VehicleSpeed', value: { float_value: n } }]);
    frames.set(txid, f);
    sentAt.set(txid, Date.now());
    vehicle.send(f);
    return txid;
  };
  const acked = () => new Set(vehicle.responses.filter((r) => r.kind === 'ack').map((r) => r.txid));

  for (let i = 0; i < 20; i++) send('before');
  await waitUntil(() => acked().size === 20, 20_000, '20 frames acked before the outage');

  await kafka.down(-1);
  const downAt = Date.now();
  // Sent while no broker takes anything: a vehicle sends on, unanswered.
  const during: string[] = [];
  for (let i = 0; i < 20; i++) {
    during.push(send('during'));
    await sleep(100);
  }
  await waitUntil(async () => (await readyz()) === 503, 30_000, '/readyz 503 while the cluster is down');
  t.pass('/readyz answers 503 while no broker takes records');
  const ackedWhileDown = [...acked()].filter((x) => during.includes(x));
  t.same(ackedWhileDown, [], 'no frame sent during the outage was acked');

  await kafka.up(-1);
  const upAt = Date.now();
  // The vehicle resends what got no answer, as a car does, until all is acked.
  const resent = await resendUntilAcked(vehicle, frames, sentAt, { resendMs: 1500, totalMs: 60_000 });
  t.equal(resent.acked.size, frames.size, 'every frame acked after the cluster came back');
  t.pass(`acks resumed ${Date.now() - upAt} ms after the brokers came back (down for ${upAt - downAt} ms)`);
  await waitUntil(async () => (await readyz()) === 200, 20_000, '/readyz 200 again');

  const inKafka = new Set((await kcatRead(kafka.bootstrap, 'outage_V')).map((m) => m.headers.txid));
  const missing = [...acked()].filter((x) => !inKafka.has(x));
  t.same(missing, [], '0 acked frames missing from the topic');
  t.equal(acked().size, 40, 'all 40 frames acked in the end');
  await vehicle.close();
  t.equal(await server.stop(), 0, 'server exits 0');
});

t.test('a produce error the cluster returns leaves the frame unacked; its resend is acked', async (t) => {
  const dir = ownDir(t);
  const kafka = await startKafkaMock(1);
  t.teardown(() => kafka.stop());
  const pki = await makePki(dir);
  const server = await startServer(dir, {
    namespace: 'inject',
    records: { V: ['kafka'] },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
    // No retry inside the client: the error reaches the producer.
    kafka: { 'bootstrap.servers': kafka.bootstrap, retries: 0 },
  });
  t.teardown(() => server.stop().catch(() => {}));
  await server.waitForLog((l) => l.event === 'kafka_connected', 20_000);
  const vehicle = await connectVehicle(server.port, await pki.vehicle(conformance.vin), pki.ca.certPem);
  const warm = vFrame('warm', conformance.vin, [{ key: 'VehicleSpeed', value: { float_value: 1 } }]);
  vehicle.send(warm);
  t.equal((await vehicle.response('warm', 20_000)).kind, 'ack', 'a first frame is acked (topic made)');

  // NOT_ENOUGH_REPLICAS (19): the broker refuses the produce request.
  await kafka.errors(0, [19]);
  const f = vFrame('refused', conformance.vin, [{ key: 'VehicleSpeed', value: { float_value: 2 } }]);
  vehicle.send(f);
  await server.waitForLog((l) => l.event === 'kafka_unavailable', 20_000);
  await sleep(500);
  t.notOk(
    vehicle.responses.some((r) => r.txid === 'refused'),
    'the refused frame got no response',
  );
  vehicle.send(f);
  t.equal((await vehicle.response('refused', 20_000)).kind, 'ack', 'its resend is acked');
  const got = (await kcatRead(kafka.bootstrap, 'inject_V')).filter((m) => m.headers.txid === 'refused');
  t.equal(got.length, 1, 'the record is in the topic once');
  await vehicle.close();
});
