import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { certSourceFromCa, EmulatedVehicle, emulatorVin, FileFrameStore, Fleet } from '../src/emulator/index.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { makePki, type TestPki } from './helpers/pki.js';
import { waitUntil } from './helpers/ports.js';
import { startServer } from './helpers/server.js';

// The emulator through a broker outage: frames left unanswered by the server, resent with the
// same txid, all acked once mosquitto is back; and an emulator restart with a queue file.

const ALL_RECORDS = { V: ['mqtt'], alerts: ['mqtt'], errors: ['mqtt'] };

function tlsOf(pki: TestPki) {
  return { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile };
}

t.test('broker outage: frames unanswered, resent with the same txid, all acked after the broker returns', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const mosq = await startMosquitto(dir);
  t.teardown(() => mosq.stop());
  const server = await startServer(dir, {
    records: ALL_RECORDS,
    tls: tlsOf(pki),
    mqtt: { broker: mosq.url, topic_base: 'telemetry', qos: 1, publish_timeout_ms: 800, connect_retry_interval_ms: 200, connect_retry_max_interval_ms: 500 },
  });
  t.teardown(() => server.stop());
  await server.waitForLog((l) => l.event === 'mqtt_connected');
  const url = `wss://localhost:${server.port}/`;

  const fleet = await Fleet.create({
    url,
    ca: pki.ca.certPem,
    certs: certSourceFromCa(pki.ca),
    vehicles: 2,
    frames: 60,
    rate: 15,
    fields: 6,
    resendTimeoutMs: 1200,
  });
  const done = fleet.run();
  await waitUntil(() => fleet.stats().total().counts.acked >= 20, 10_000, 'frames acked before the outage');
  await mosq.stop();
  await waitUntil(() => fleet.stats().total().counts.resent >= 4, 10_000, 'resends during the outage');
  t.ok(fleet.stats().total().counts.acked < 120, 'frames still wait for their acks when the broker returns');
  await mosq.start();
  const s = await done;
  t.ok(s.ok, 'every frame ended acked');
  t.equal(s.totals.acked, 120);
  t.equal(s.totals.sent, 120, 'each frame counted as sent once');
  t.equal(s.totals.errored, 0, 'a broker outage never gets an error response');
  t.equal(s.totals.expired + s.totals.gave_up + s.totals.dropped, 0);
  t.ok(s.totals.resent >= 4, `resent ${s.totals.resent}`);
  t.ok(
    server.logs.some((l) => l.event === 'record_unacked'),
    'the server left frames unanswered',
  );

  t.test('queue file: frames unacked when the emulator stops go out after it restarts', async (t) => {
    const file = join(dir, 'queue');
    const vin = emulatorVin(60);
    const cert = await pki.vehicle(vin);
    await mosq.stop();
    let store = FileFrameStore.open(file);
    const first = new EmulatedVehicle({ vin, url, ca: pki.ca.certPem, cert, store, frames: 8, rate: 40, resendTimeoutMs: 400 });
    first.start();
    await waitUntil(() => first.stats.type('V').counts.resent > 0 && !first.generating, 10_000, 'frames sent and resent');
    await first.stop();
    t.equal(first.stats.total().counts.acked, 0, 'nothing acked with the broker away');
    store.close();
    const kept = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('A\t'))
      .map((l) => l.split('\t')[2]);
    t.equal(kept.length, 8, 'all frames are in the file');

    await mosq.start();
    store = FileFrameStore.open(file);
    const second = new EmulatedVehicle({ vin, url, ca: pki.ca.certPem, cert, store, generate: false, resendTimeoutMs: 1200 });
    const acked: string[] = [];
    second.on('ack', (e: { txid: string }) => acked.push(e.txid));
    second.start();
    t.ok(await second.whenFinished(15_000), 'the restored frames reach an outcome');
    await second.stop();
    t.equal(second.stats.restored, 8);
    t.same(acked.sort(), kept.sort(), 'the same txids are acked');
    t.equal(store.size(), 0, 'nothing left to keep');
    store.close();
  });
});
