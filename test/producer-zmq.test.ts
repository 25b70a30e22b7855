import t from 'tap';
import type { Test } from 'tap';
import { loadConformance } from './helpers/fixtures.js';
import { caseRecord, expectedJson, expectedPlain, plainMessage, vDatumMismatches } from './helpers/dispatch-expect.js';
import { makePki } from './helpers/pki.js';
import { startServer } from './helpers/server.js';
import { connectVehicle, vFrame } from './helpers/vehicle.js';
import { freePort, sleep, waitUntil } from './helpers/ports.js';
import { subscribeZmq, type ZmqSubscriber } from './helpers/zmq.js';

// Tesla's zmq dispatcher (datastore/zmq/zmq.go): a PUB socket bound to zmq.addr sends
// [<namespace>_<record type>, the record's message]. A SUB socket of the zeromq package reads
// what the real server sends for every public vector.

const conformance = loadConformance();
const VIN = conformance.vin;
const NS = 'tesla_telemetry';
const PROBE_VIN = '5YJ3E1EA0PF000001';

/** The server publishing every record type on a free port, and a SUB socket reading it. */
async function start(t: Test, decoded: boolean) {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const port = await freePort();
  const server = await startServer(dir, {
    namespace: NS,
    transmit_decoded_records: decoded,
    records: { V: ['zmq'], alerts: ['zmq'], errors: ['zmq'], connectivity: ['zmq'] },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
    zmq: { addr: `tcp://127.0.0.1:${port}`, verbose: true },
    workers: 1,
  });
  t.teardown(() => server.stop().catch(() => undefined));
  // A probe vehicle stays connected for the whole test: its leaving would put a DISCONNECTED
  // record among the ones the test counts.
  let probe: Awaited<ReturnType<typeof connectVehicle>> | undefined;
  let sent = 0;
  const probeV = async (sub: ZmqSubscriber, ms: number) => {
    probe ??= await connectVehicle(server.port, await pki.vehicle(PROBE_VIN), pki.ca.certPem);
    const txid = `probe-${++sent}`;
    probe.send(vFrame(txid, PROBE_VIN, [{ key: 'VehicleSpeed', value: { float_value: sent } }]));
    t.equal((await probe.response(txid, 15_000)).kind, 'ack', `${txid} acked`);
    return waitUntil(() => sub.got.some((g) => g.topic === `${NS}_V`) || undefined, ms, txid).then(
      () => true,
      () => false,
    );
  };
  t.teardown(() => probe?.close());
  /**
   * A SUB socket that receives from now on. Its subscription reaches the PUB socket some time
   * after it connects and the publisher's side says nothing when, so the probe sends until one
   * of its records arrives, then once more: the PUB socket keeps order, so once that last one
   * arrived nothing of the probe's is still on its way, and the subscriber's log starts empty.
   */
  const subscribe = async () => {
    const sub = subscribeZmq(port);
    t.teardown(() => sub.close());
    for (let tries = 1; !(await probeV(sub, 500)); tries++) if (tries >= 60) throw new Error('the subscriber never received a probe');
    sub.got.length = 0;
    if (!(await probeV(sub, 15_000))) throw new Error('the last probe never arrived');
    sub.got.length = 0;
    return sub;
  };
  return { server, pki, subscribe };
}

async function run(t: Test, decoded: boolean) {
  const { server, pki, subscribe } = await start(t, decoded);
  const sub = await subscribe();

  const vehicle = await connectVehicle(server.port, await pki.vehicle(VIN), pki.ca.certPem);
  await waitUntil(() => sub.got.some((g) => g.topic === `${NS}_connectivity`) || undefined, 10_000, 'the CONNECTED record');
  for (const c of conformance.cases) {
    const before = sub.got.length;
    vehicle.send(Buffer.from(c.frame_b64, 'base64'));
    const r = await vehicle.response(c.expect.txid, 15_000);
    t.equal(r.kind, c.expect.response, `${c.name}: response`);
    const rec = caseRecord(c);
    if (c.expect.response !== 'ack' || !rec) {
      await sleep(300);
      t.equal(sub.got.length, before, `${c.name}: nothing sent`);
      continue;
    }
    await waitUntil(() => sub.got.length > before || undefined, 10_000, `${c.name}: a message`);
    const got = sub.got.slice(before);
    t.same(
      got.map((g) => g.topic),
      [`${NS}_${rec.type}`],
      `${c.name}: one message, topic <namespace>_<record type>`,
    );
    if (decoded) {
      const have = JSON.parse(got[0].value.toString('utf8'));
      t.same(have, expectedJson(c), `${c.name}: Tesla's JSON of the record`);
      t.equal(have.vin, VIN, `${c.name}: vin set`);
    } else {
      const plain = plainMessage(rec.type, got[0].value);
      t.same(plain, expectedPlain(c), `${c.name}: the message Tesla's dispatcher sends, field by field`);
      t.equal(plain.vin, VIN, `${c.name}: vin set from the certificate`);
      if (rec.type === 'V') t.same(vDatumMismatches(c, plain), [], `${c.name}: every datum says what the vector says`);
    }
  }
  await vehicle.close();
  await waitUntil(() => sub.got.filter((g) => g.topic === `${NS}_connectivity`).length >= 2 || undefined, 10_000, 'the DISCONNECTED record');
  t.equal(await server.stop(), 0, 'the server exits 0');
}

t.test('conformance vectors through the zmq producer: protobuf', (t) => run(t, false));
t.test('conformance vectors through the zmq producer: transmit_decoded_records', (t) => run(t, true));

t.test('zmq.addr taken: the server does not start, and says why', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const port = await freePort();
  const { Publisher } = await import('zeromq');
  const holder = new Publisher({ linger: 0 });
  await holder.bind(`tcp://127.0.0.1:${port}`);
  t.teardown(() => holder.close());
  await t.rejects(
    startServer(dir, {
      records: { V: ['zmq'] },
      tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
      zmq: { addr: `tcp://127.0.0.1:${port}` },
      workers: 1,
    }),
    /cannot bind tcp:\/\/127\.0\.0\.1/,
  );
});

t.test('subscriber gone: frames are still acked and not delivered (ZeroMQ has no broker); one that returns gets what follows', async (t) => {
  const { server, pki, subscribe } = await start(t, false);
  const first = await subscribe();
  const vehicle = await connectVehicle(server.port, await pki.vehicle(VIN), pki.ca.certPem);
  t.teardown(() => vehicle.close());
  const send = async (txid: string, speed: number) => {
    vehicle.send(vFrame(txid, VIN, [{ key: 'VehicleSpeed', value: { float_value: speed } }]));
    return (await vehicle.response(txid, 15_000)).kind;
  };
  t.equal(await send('z1', 1), 'ack');
  await waitUntil(() => first.got.some((g) => g.topic === `${NS}_V`) || undefined, 10_000, 'the first V');
  first.close();
  await server.waitForLog((l) => l.event === 'zmq_socket_event' && l.type === 'disconnect', 10_000);
  t.equal(await send('z2', 2), 'ack', 'acked with no subscriber: the PUB socket took it');
  const second = await subscribe();
  t.equal(await send('z3', 3), 'ack');
  await waitUntil(() => second.got.some((g) => g.topic === `${NS}_V`) || undefined, 10_000, 'a V for the new subscriber');
  const vs = second.got.filter((g) => g.topic === `${NS}_V`).map((g) => JSON.stringify(plainMessage('V', g.value)));
  t.equal(vs.length, 1, 'the new subscriber got only the frame sent after it came: z2 went to nobody');
  t.match(vs[0], /"float_value":3[,}]/, 'and it is z3');
});
