import t from 'tap';
import type { Test } from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { curveKeyPair } from 'zeromq';
import { loadConformance } from './helpers/fixtures.js';
import { caseRecord, expectedPlain, plainMessage } from './helpers/dispatch-expect.js';
import { makePki } from './helpers/pki.js';
import { startServer, type ServerProcess } from './helpers/server.js';
import { connectVehicle, vFrame, type VehicleClient } from './helpers/vehicle.js';
import { freePort, waitUntil } from './helpers/ports.js';
import { subscribeZmq, type ZmqSubscriber } from './helpers/zmq.js';

// The zmq producer with Tesla's CURVE keys: server_key_json_path makes the PUB socket a CURVE
// server, allowed_public_keys_json_path limits it to the listed subscriber keys. Real SUB sockets
// of the zeromq package read what the real server sends.

const conformance = loadConformance();
const VIN = conformance.vin;
const NS = 'tesla_telemetry';

// Three servers, each started and probed on a loaded machine.
t.setTimeout(180_000);

type KeyPair = ReturnType<typeof curveKeyPair>;

interface CurveSetup {
  server: ServerProcess;
  serverKey: KeyPair;
  vehicle: VehicleClient;
  /** A SUB socket on the server's endpoint, closed in a teardown; `curve` connects with CURVE. */
  subscribe(curve?: { serverKey: string; client: KeyPair }): ZmqSubscriber;
  /** Sends a V frame and resolves with the response's kind. */
  sendV(txid: string, speed: number): Promise<string>;
}

/** The server with a fresh CURVE server key (and an allow-list when given), a vehicle connected. */
async function curveServer(t: Test, allowed?: string[]): Promise<CurveSetup> {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const serverKey = curveKeyPair();
  writeFileSync(join(dir, 'server-key.json'), JSON.stringify({ secret: serverKey.secretKey, public: serverKey.publicKey }));
  if (allowed) writeFileSync(join(dir, 'allowed-keys.json'), JSON.stringify(allowed));
  const port = await freePort();
  const server = await startServer(dir, {
    namespace: NS,
    records: { V: ['zmq'], alerts: ['zmq'], errors: ['zmq'], connectivity: ['zmq'] },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
    zmq: {
      addr: `tcp://127.0.0.1:${port}`,
      server_key_json_path: 'server-key.json',
      ...(allowed ? { allowed_public_keys_json_path: 'allowed-keys.json' } : {}),
      verbose: true,
    },
    workers: 1,
  });
  t.teardown(() => server.stop().catch(() => undefined));
  const vehicle = await connectVehicle(server.port, await pki.vehicle(VIN), pki.ca.certPem);
  t.teardown(() => vehicle.close());
  return {
    server,
    serverKey,
    vehicle,
    subscribe(curve) {
      const sub = subscribeZmq(port, curve && { curve: { serverKey: curve.serverKey, publicKey: curve.client.publicKey, secretKey: curve.client.secretKey } });
      t.teardown(() => sub.close());
      return sub;
    },
    async sendV(txid, speed) {
      vehicle.send(vFrame(txid, VIN, [{ key: 'VehicleSpeed', value: { float_value: speed } }]));
      return (await vehicle.response(txid, 15_000)).kind;
    },
  };
}

const speedsOf = (sub: ZmqSubscriber): number[] =>
  sub.got
    .filter((g) => g.topic === `${NS}_V`)
    .map((g) => {
      const m = plainMessage('V', g.value) as { data: { value: { float_value: number } }[] };
      return m.data[0].value.float_value;
    });

/**
 * A marker frame, then waits until every one of `subs` got it: a PUB socket keeps each
 * subscriber's order, so whatever was sent to them before has been delivered.
 */
async function marker(t: Test, s: CurveSetup, subs: ZmqSubscriber[], speed: number): Promise<void> {
  t.equal(await s.sendV(`marker-${speed}`, speed), 'ack', `the marker ${speed} acked`);
  await waitUntil(() => subs.every((sub) => speedsOf(sub).includes(speed)) || undefined, 15_000, `the marker ${speed}`);
}

/**
 * Sends V frames (speeds from 1000 up) until every subscriber in `subs` has received one: a SUB
 * socket's subscription reaches the publisher some time after its handshake, and what is sent
 * before is not for it. A last marker flushes the probes still on their way.
 */
async function untilSubscribed(t: Test, s: CurveSetup, subs: ZmqSubscriber[]): Promise<void> {
  for (let i = 0; ; i++) {
    t.equal(await s.sendV(`probe-${i}`, 1000 + i), 'ack', `probe-${i} acked`);
    const all = await waitUntil(() => subs.every((sub) => sub.count() > 0) || undefined, 500, 'the probe').catch(() => false);
    if (all) return marker(t, s, subs, 2000);
    if (i >= 60) throw new Error('the subscribers never received a probe');
  }
}

t.test('server key, no allow-list: a CURVE subscriber that knows the server key gets every record', async (t) => {
  const s = await curveServer(t);
  const bound = await s.server.waitForLog((l) => l.event === 'zmq_bound');
  t.equal(bound.curve, true, 'the socket is a CURVE server');
  t.equal(bound.server_public_key, s.serverKey.publicKey, 'the log names the public key subscribers need');
  const sub = s.subscribe({ serverKey: s.serverKey.publicKey, client: curveKeyPair() });
  await untilSubscribed(t, s, [sub]);
  await s.server.waitForLog((l) => l.event === 'zmq_socket_event' && l.type === 'handshake');

  let sent = 0;
  for (const c of conformance.cases) {
    const before = sub.got.length;
    s.vehicle.send(Buffer.from(c.frame_b64, 'base64'));
    const r = await s.vehicle.response(c.expect.txid, 15_000);
    t.equal(r.kind, c.expect.response, `${c.name}: response to ${c.expect.txid}`);
    const rec = caseRecord(c);
    if (c.expect.response !== 'ack' || !rec) continue;
    sent++;
    await waitUntil(() => sub.got.length > before || undefined, 15_000, `${c.name}: a message`);
    const got = sub.got.slice(before);
    t.same(
      got.map((g) => g.topic),
      [`${NS}_${rec.type}`],
      `${c.name}: one message, topic <namespace>_<record type>`,
    );
    t.same(plainMessage(rec.type, got[0].value), expectedPlain(c), `${c.name}: the record's message, decrypted by the subscriber`);
  }
  t.ok(sent > 0, `${sent} records went through CURVE`);
});

t.test('server key: a subscriber without CURVE, or with the wrong server key, gets nothing; the CURVE one beside them gets all', async (t) => {
  const s = await curveServer(t);
  // Each is refused before any record is sent. Which side notices a subscriber without CURVE
  // first varies (the server logs ERR_ZMTP_MECHANISM_MISMATCH, or EPIPE when the subscriber hung
  // up first); a wrong server key is always the server's ERR_ZMTP_CRYPTOGRAPHIC.
  const plain = s.subscribe();
  await s.server.waitForLog((l) => l.event === 'zmq_socket_event' && String(l.type).startsWith('handshake:error:'));
  const wrong = s.subscribe({ serverKey: curveKeyPair().publicKey, client: curveKeyPair() });
  await s.server.waitForLog((l) => l.event === 'zmq_socket_event' && l.error === 'ERR_ZMTP_CRYPTOGRAPHIC');
  const good = s.subscribe({ serverKey: s.serverKey.publicKey, client: curveKeyPair() });
  await untilSubscribed(t, s, [good]);

  const speeds = [11, 12, 13, 14, 15];
  for (const v of speeds) t.equal(await s.sendV(`z${v}`, v), 'ack', `z${v} acked`);
  await marker(t, s, [good], 99);
  t.same(
    speedsOf(good).filter((v) => v < 1000),
    [...speeds, 99],
    'the CURVE subscriber got every record, in order, and the marker',
  );
  t.equal(plain.count(), 0, 'the subscriber without CURVE got nothing');
  t.equal(wrong.count(), 0, 'the subscriber with the wrong server key got nothing');
});

t.test('allow-list: a listed subscriber key gets the records, an unlisted one nothing', async (t) => {
  const listed = curveKeyPair();
  const unlisted = curveKeyPair();
  const s = await curveServer(t, [curveKeyPair().publicKey, listed.publicKey]);
  const bound = await s.server.waitForLog((l) => l.event === 'zmq_bound');
  t.equal(bound.allowed_keys, 2, 'the log says how many keys are allowed');
  const out = s.subscribe({ serverKey: s.serverKey.publicKey, client: unlisted });
  const refused = await s.server.waitForLog((l) => l.event === 'zmq_subscriber_refused', 15_000);
  t.equal(refused.public_key, unlisted.publicKey, 'the refusal names the unlisted key');
  const good = s.subscribe({ serverKey: s.serverKey.publicKey, client: listed });
  await untilSubscribed(t, s, [good]);

  for (const v of [21, 22, 23]) t.equal(await s.sendV(`a${v}`, v), 'ack', `a${v} acked`);
  await marker(t, s, [good], 98);
  t.same(
    speedsOf(good).filter((v) => v < 1000),
    [21, 22, 23, 98],
    'the listed subscriber got every record and the marker',
  );
  t.equal(out.count(), 0, 'the unlisted subscriber got nothing');
  t.notOk(
    s.server.logs.some((l) => l.event === 'zmq_subscriber_refused' && l.public_key === listed.publicKey),
    'the listed key was never refused',
  );
});
