import t, { type Test } from 'tap';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { caseRecord, expectedJson } from './helpers/dispatch-expect.js';
import { canonicalJson, loadConformance } from './helpers/fixtures.js';
import { KINESALITE_ENV, startKinesalite } from './helpers/kinesalite.js';
import { makePki } from './helpers/pki.js';
import { freePort, sleep, waitUntil } from './helpers/ports.js';
import { startServer } from './helpers/server.js';
import { expectedDispatch, plain } from './helpers/tesla-expect.js';
import { resendUntilAcked } from './helpers/resender.js';
import { sendVectors } from './helpers/vectors.js';
import { connectVehicle, vFrame } from './helpers/vehicle.js';

// The kinesis producer against kinesalite (a Kinesis API server), read back with GetRecords.
const conformance = loadConformance();
const NAMESPACE = 'tesla_telemetry';

/** A folder the processes use until their teardowns ran (tap removes t.testdir() before them). */
function ownDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'ft-kinesis-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// One kinesalite for the vector runs (each with its own streams); the outage test kills its own.
const sharedDir = mkdtempSync(join(tmpdir(), 'ft-kinesis-'));
t.teardown(() => rmSync(sharedDir, { recursive: true, force: true }));
const shared = await startKinesalite(sharedDir);
t.teardown(() => shared.stop());

/** A server sending every record type to the shared kinesalite, connected. */
async function vectorServer(t: Test, dir: string, config: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) {
  const pki = await makePki(dir);
  const server = await startServer(
    dir,
    {
      records: { V: ['kinesis'], alerts: ['kinesis'], errors: ['kinesis'], connectivity: ['kinesis'] },
      tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
      ...config,
      kinesis: { override_host: shared.endpoint, max_retries: 3, ...(config.kinesis as object | undefined) },
    },
    { env: { ...KINESALITE_ENV, ...env } },
  );
  t.teardown(() => server.stop().catch(() => {}));
  await server.waitForLog((l) => l.event === 'kinesis_connected', 20_000);
  return { pki, server };
}

t.test('every vector through the server reaches its Kinesis stream as Tesla sends it', async (t) => {
  const dir = ownDir(t);
  // Tesla's mapping: kinesis.streams, then KINESIS_STREAM_<TYPE>, then <namespace>_<type>.
  const streams: Record<string, string> = { V: 'test_V', alerts: `${NAMESPACE}_alerts`, errors: 'errors_from_env', connectivity: 'test_connectivity' };
  for (const s of Object.values(streams)) await shared.createStream(s, 2);
  const { pki, server } = await vectorServer(
    t,
    dir,
    { namespace: NAMESPACE, kinesis: { streams: { V: 'test_V', connectivity: 'test_connectivity' } } },
    { KINESIS_STREAM_ERRORS: 'errors_from_env' },
  );

  const vehicle = await connectVehicle(server.port, await pki.vehicle(conformance.vin), pki.ca.certPem);
  await sendVectors(t, vehicle, conformance.cases);
  await vehicle.close();
  await server.waitForLog((l) => l.event === 'vehicle_disconnected', 10_000).catch(() => undefined);
  await waitUntil(async () => (await shared.read(streams.connectivity)).length >= 2, 10_000, 'DISCONNECTED record in its stream');

  const read = new Map<string, { partitionKey: string; data: Buffer }[]>();
  for (const [type, stream] of Object.entries(streams)) read.set(type, await shared.read(stream));
  const expected = conformance.cases.map((c) => expectedDispatch(c, conformance.vin)).filter((x) => x !== undefined);
  for (const type of ['V', 'alerts', 'errors']) {
    const want = expected.filter((e) => e.recordType === type);
    const got = read.get(type)!;
    t.equal(got.length, want.length, `${type}: ${want.length} records in ${streams[type]}`);
    for (const r of got) t.equal(r.partitionKey, conformance.vin, `${type}: partition key is the VIN`);
    // Kinesis orders records per shard only: each expected message is matched by its content.
    const gotPlain = got.map((r) => plain(type, r.data));
    for (const w of want) {
      const i = gotPlain.findIndex((g) => JSON.stringify(g) === JSON.stringify(w.message));
      t.ok(i >= 0, `${type} ${w.txid}: a record equal to Tesla's, field by field`) || t.same(gotPlain, w.message, 'what was read');
    }
  }
  const conn = read.get('connectivity')!.map((r) => plain('connectivity', r.data));
  t.same(
    conn.map((c) => [c.vin, c.status]).sort(),
    [
      [conformance.vin, 'CONNECTED'],
      [conformance.vin, 'DISCONNECTED'],
    ],
    'connectivity: CONNECTED and DISCONNECTED with the VIN',
  );
  t.equal(await server.stop(), 0, 'server exits 0');
});

t.test("transmit_decoded_records: every vector reaches its Kinesis stream as Tesla's JSON", async (t) => {
  const dir = ownDir(t);
  const ns = 'decoded';
  for (const type of ['V', 'alerts', 'errors', 'connectivity']) await shared.createStream(`${ns}_${type}`, 2);
  const { pki, server } = await vectorServer(t, dir, { namespace: ns, transmit_decoded_records: true });
  const vehicle = await connectVehicle(server.port, await pki.vehicle(conformance.vin), pki.ca.certPem);
  await sendVectors(t, vehicle, conformance.cases);
  await vehicle.close();

  for (const type of ['V', 'alerts', 'errors']) {
    const want = conformance.cases.filter((c) => c.expect.response === 'ack' && caseRecord(c)?.type === type);
    const got = await shared.read(`${ns}_${type}`);
    t.equal(got.length, want.length, `${type}: ${want.length} records in ${ns}_${type}`);
    for (const r of got) t.equal(r.partitionKey, conformance.vin, `${type}: partition key is the VIN`);
    // Kinesis orders records per shard only: each expected JSON is matched by its content.
    const gotJson = got.map((r) => JSON.parse(r.data.toString('utf8')) as Record<string, unknown>);
    const text = (o: unknown) => canonicalJson(JSON.stringify(o));
    for (const c of want) {
      const json = expectedJson(c);
      const match = gotJson.find((g) => text(g) === text(json));
      t.ok(match, `${type} ${c.expect.txid}: a record equal to Tesla's JSON`) || t.same(gotJson, json, 'what was read');
      t.equal(match?.vin, conformance.vin, `${type} ${c.expect.txid}: vin set`);
    }
  }
  t.equal(await server.stop(), 0, 'server exits 0');
});

t.test('kinesalite killed: nothing acked while gone, acks resume after its restart, no acked frame missing', async (t) => {
  const dir = ownDir(t);
  mkdirSync(join(dir, 'kinesis'));
  const kinesis = await startKinesalite(join(dir, 'kinesis'));
  t.teardown(() => kinesis.stop());
  await kinesis.createStream('outage_V', 1);
  // Connectivity records go where V records go: their stream must exist too.
  await kinesis.createStream('outage_connectivity', 1);
  const pki = await makePki(dir);
  const statusPort = await freePort();
  const server = await startServer(
    dir,
    {
      namespace: 'outage',
      status_port: statusPort,
      records: { V: ['kinesis'] },
      tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
      kinesis: { override_host: kinesis.endpoint, max_retries: 0 },
    },
    { env: KINESALITE_ENV },
  );
  t.teardown(() => server.stop().catch(() => {}));
  await server.waitForLog((l) => l.event === 'kinesis_connected', 20_000);
  const readyz = async () => (await fetch(`http://127.0.0.1:${statusPort}/readyz`)).status;
  t.equal(await readyz(), 200, 'ready while Kinesis answers');

  const vin = conformance.vin;
  const vehicle = await connectVehicle(server.port, await pki.vehicle(vin), pki.ca.certPem);
  const frames = new Map<string, Uint8Array>();
  const speedOf = new Map<number, string>();
  const sentAt = new Map<string, number>();
  let n = 0;
  const send = (phase: string) => {
    const txid = `${phase}-${n}`;
    speedOf.set(n, txid);
    const f = vFrame(txid, vin, [{ key: 'VehicleSpeed', value: { int_value: n } }]);
    n++;
    frames.set(txid, f);
    sentAt.set(txid, Date.now());
    vehicle.send(f);
    return txid;
  };
  const acked = () => new Set(vehicle.responses.filter((r) => r.kind === 'ack').map((r) => r.txid));

  for (let i = 0; i < 20; i++) send('before');
  await waitUntil(() => acked().size === 20, 20_000, '20 frames acked before the outage');

  await kinesis.kill();
  const during: string[] = [];
  for (let i = 0; i < 20; i++) {
    during.push(send('during'));
    await sleep(100);
  }
  await waitUntil(async () => (await readyz()) === 503, 30_000, '/readyz 503 while Kinesis is gone');
  t.pass('/readyz answers 503 while Kinesis is gone');
  t.same(
    [...acked()].filter((x) => during.includes(x)),
    [],
    'no frame sent while Kinesis was gone was acked',
  );

  await kinesis.start();
  const upAt = Date.now();
  // The vehicle resends what got no answer, as a car does, until all is acked.
  const resent = await resendUntilAcked(vehicle, frames, sentAt, { resendMs: 1500, totalMs: 60_000 });
  t.equal(resent.acked.size, frames.size, 'every frame acked after Kinesis came back');
  t.pass(`acks resumed ${Date.now() - upAt} ms after the restart`);
  await waitUntil(async () => (await readyz()) === 200, 20_000, '/readyz 200 again');

  const inStream = new Set<string>();
  for (const r of await kinesis.read('outage_V')) {
    const p = plain('V', r.data) as { data: { value: { int_value: number } }[] };
    inStream.add(speedOf.get(Number(p.data[0].value.int_value))!);
  }
  t.same(
    [...acked()].filter((x) => !inStream.has(x)),
    [],
    '0 acked frames missing from the stream',
  );
  t.equal(acked().size, 40, 'all 40 frames acked in the end');
  await vehicle.close();
  t.equal(await server.stop(), 0, 'server exits 0');
});
