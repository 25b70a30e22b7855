import t from 'tap';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeRecord } from '../src/record/decode.js';
import { writeDevCerts } from '../src/tls/dev-certs.js';
import {
  CarModel,
  certSourceFromCa,
  certSourceFromDir,
  EmulatedVehicle,
  emulatorVin,
  emulatorVins,
  FIELD_CATALOGUE,
  FileFrameStore,
  Fleet,
  LatencyHistogram,
  RecordFactory,
  summaryOk,
  type CarState,
} from '../src/emulator/index.js';
import { makePki, type TestPki } from './helpers/pki.js';
import { sleep } from './helpers/ports.js';
import { startServer } from './helpers/server.js';
import { subscribe } from './helpers/subscriber.js';

// The emulator: its car model, records, queue file and statistics on their own, then a fleet and
// a refused frame against the real server with its embedded broker. Broker outages, reconnects
// and the CLI have their own files (emulator-*.test.ts).

const ALL_RECORDS = { V: ['mqtt'], alerts: ['mqtt'], errors: ['mqtt'] };

function tlsOf(pki: TestPki) {
  return { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile };
}

t.test('VINs and certificates', async (t) => {
  t.equal(emulatorVin(1), '5YJ3E1EA7KF000001', 'vehicle 1 has the VIN `certs` issues by default');
  t.same(emulatorVins(3, 9), ['5YJ3E1EA7KF000009', '5YJ3E1EA7KF000010', '5YJ3E1EA7KF000011']);
  const dir = t.testdir();
  const paths = await writeDevCerts(dir, [emulatorVin(1)]);
  const source = certSourceFromDir(dir);
  const own = await source(emulatorVin(1));
  t.equal(own.certPem, readFileSync(paths.vehicles[emulatorVin(1)].cert, 'utf8'), 'a certificate on disk is used as it is');
  const made = await source(emulatorVin(2));
  const cert = new X509Certificate(made.certPem);
  t.match(cert.subject, /CN=5YJ3E1EA7KF000002/, 'a missing one is issued for its VIN');
  t.ok(cert.checkIssued(new X509Certificate(readFileSync(paths.caCert))), '… by the directory CA');
  await t.rejects(certSourceFromDir(t.testdir())(emulatorVin(1)), /fleet-telemetry certs/, 'no CA: the error says how to make one');
});

t.test('the car model drives and charges like a car', async (t) => {
  for (const seed of [1, 2, 3]) {
    const car = new CarModel({ seed });
    const states: CarState[] = [];
    for (let i = 0; i < 3000; i++) states.push({ ...car.step(30) });
    // A drive: P, then D from standstill, moving, D at standstill again, then P.
    const start = states.findIndex((s, i) => i > 0 && s.gear === 'D' && states[i - 1].gear === 'P');
    t.ok(start > 0, `seed ${seed}: a drive starts`);
    const end = states.findIndex((s, i) => i > start && s.gear === 'P');
    t.ok(end > start, `seed ${seed}: and ends`);
    const drive = states.slice(start, end);
    t.equal(drive[0].speedMph, 0, 'it sets off from standstill');
    t.equal(drive[drive.length - 1].speedMph, 0, 'it stops before P');
    t.ok(Math.max(...drive.map((s) => s.speedMph)) > 20, 'it gets up to speed');
    t.ok(drive[drive.length - 1].soc < states[start - 1].soc, 'charge falls while driving');
    t.ok(drive[drive.length - 1].odometerMi > states[start - 1].odometerMi, 'the odometer counts');
    const moved = Math.hypot(drive[drive.length - 1].latitude - drive[0].latitude, drive[drive.length - 1].longitude - drive[0].longitude);
    t.ok(moved > 0.001, 'the location moves along a path');
    t.ok(
      states.every((s) => s.gear === 'D' || s.speedMph === 0),
      'never moving in P',
    );
    // A charging session: starting, charging with power while charge rises, then unplugged.
    const cs = states.findIndex((s) => s.chargeState === 'Charging');
    t.ok(cs > 0 && states[cs - 1].chargeState === 'Starting', `seed ${seed}: charging begins with Starting`);
    const ce = states.findIndex((s, i) => i > cs && s.chargeState !== 'Charging');
    const session = states.slice(cs, ce);
    t.ok(
      session.every((s) => s.acChargingPowerKw > 0 && s.gear === 'P' && s.speedMph === 0),
      'AC power flows, parked',
    );
    t.ok(states[ce - 1].soc > states[cs - 1].soc, 'charge rises while charging');
    t.ok(['Complete', 'Disconnected'].includes(states[ce].chargeState), 'then complete or unplugged');
  }
});

t.test('records decode as the server decodes them', async (t) => {
  const vin = emulatorVin(7);
  const f = new RecordFactory({ vin, seed: 7, fields: FIELD_CATALOGUE.length, alertsEvery: 4, errorsEvery: 6 });
  const types: string[] = [];
  for (let i = 1; i <= 12; i++) {
    const r = f.next(1_700_000_000_000 + i * 1000);
    types.push(r.recordType);
    const rec = decodeRecord(r.recordType, r.payload, vin, `tx${i}`);
    if (rec.type === 'V')
      t.same(
        rec.data.map((d) => d.name),
        f.fieldNames,
        'every catalogue field, by its schema name',
      );
  }
  t.same(types, ['V', 'V', 'V', 'alerts', 'V', 'errors', 'V', 'alerts', 'V', 'V', 'V', 'errors']);
  t.same(new RecordFactory({ vin, seed: 1, fields: ['soc', 'Gear'] }).fieldNames, ['Soc', 'Gear'], 'fields by name, any case');
  t.throws(() => new RecordFactory({ vin, seed: 1, fields: ['Warp'] }), /unknown field "Warp"/);
});

t.test('latency percentiles', async (t) => {
  const h = new LatencyHistogram();
  for (let i = 1; i <= 1000; i++) h.record(i / 10);
  t.ok(Math.abs(h.quantile(0.5)! - 50) <= 0.5, `p50 ${h.quantile(0.5)}`);
  t.ok(Math.abs(h.quantile(0.99)! - 99) <= 1, `p99 ${h.quantile(0.99)}`);
  t.equal(h.quantile(1), 100, 'the maximum is exact');
  const other = new LatencyHistogram();
  other.record(1000);
  h.merge(other);
  t.equal(h.count, 1001);
  t.equal(h.maxMs, 1000);
});

t.test('queue file: a journal that survives restarts and torn writes', async (t) => {
  const file = join(t.testdir(), 'queue');
  const s = FileFrameStore.open(file);
  t.throws(() => FileFrameStore.open(file), /in use by process/, 'one emulator per file');
  const frame = (txid: string) => ({ txid, recordType: 'V', createdAt: 1234, bytes: Buffer.from(txid) });
  s.add('VIN1', frame('a'));
  s.add('VIN1', frame('b'));
  s.add('VIN2', frame('c'));
  s.remove('a');
  // What a crash in the middle of a line leaves: the journal so far and a torn line.
  const crashed = `${file}-crashed`;
  writeFileSync(crashed, readFileSync(file, 'utf8') + 'A\tVIN1\tz\tV\t12');
  s.close();
  t.equal(readFileSync(file, 'utf8').split('\n').filter(Boolean).length, 2, 'closing compacts the journal to the live frames');
  const again = FileFrameStore.open(crashed);
  t.equal(again.size(), 2);
  t.same(again.take('VIN1'), [frame('b')], 'bytes, txid, type and creation time come back');
  t.same(again.take('VIN1'), [], 'each frame is handed out once');
  again.remove('b');
  again.close();
  t.same(readFileSync(crashed, 'utf8').split('\n').filter(Boolean).length, 1, 'one frame left (VIN2)');
});

t.test('against the server', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const server = await startServer(dir, {
    records: ALL_RECORDS,
    tls: tlsOf(pki),
    mqtt: { broker: 'embedded', embedded_port: 0, topic_base: 'telemetry', qos: 1 },
  });
  t.teardown(() => server.stop());
  const url = `wss://localhost:${server.port}/`;

  t.test('3 vehicles × 40 frames: every frame acked, every field published', async (t) => {
    const sub = await subscribe(`mqtt://127.0.0.1:${server.brokerPort}`, 'telemetry/#');
    const fleet = await Fleet.create({
      url,
      ca: pki.ca.certPem,
      certs: certSourceFromCa(pki.ca),
      vehicles: 3,
      frames: 40,
      rate: 50,
      fields: 12,
      alertsEvery: 9,
      errorsEvery: 16,
      window: 8,
    });
    const s = await fleet.run();
    t.ok(s.ok, 'summary ok');
    t.equal(s.totals.generated, 120);
    t.equal(s.totals.sent, 120, 'sent');
    t.equal(s.totals.acked, 120, 'acked');
    t.equal(s.totals.errored, 0);
    t.equal(s.totals.pending, 0);
    t.same(Object.keys(s.by_record_type), ['V', 'alerts', 'errors']);
    t.equal(s.by_record_type.alerts.acked, 3 * 4);
    t.equal(s.by_record_type.errors.acked, 3 * 2);
    t.ok(s.totals.latency_ms.p50! > 0 && s.totals.latency_ms.p99! >= s.totals.latency_ms.p50!, 'latencies measured');
    t.equal(s.connections.connects, 3);

    const fields = fleet.vehicles[0].fieldNames;
    t.equal(fields.length, 12);
    for (const v of fleet.vehicles) {
      const vFrames = v.stats.type('V').counts.acked;
      await sub.waitFor(
        (m) => fields.every((f) => m.filter((x) => x.topic === `telemetry/${v.vin}/v/${f}`).length >= vFrames),
        10_000,
        `every field of ${v.vin}`,
      );
      if (v.stats.type('V').counts.resent === 0) {
        t.equal(sub.messages.filter((x) => x.topic === `telemetry/${v.vin}/v/Soc`).length, vFrames, `${v.vin}: one Soc per V frame`);
      }
      t.ok(
        sub.messages.some((x) => x.topic.startsWith(`telemetry/${v.vin}/alerts/`) && x.topic.endsWith('/history')),
        'alerts published',
      );
      t.ok(
        sub.messages.some((x) => x.topic.startsWith(`telemetry/${v.vin}/errors/`)),
        'errors published',
      );
    }
    const gear = sub.messages.filter((x) => x.topic.endsWith('/v/Gear')).map((x) => JSON.parse(x.payload).value);
    t.ok(
      gear.every((g) => /^ShiftState[PD]$/.test(g)),
      'Gear is a shift state',
    );
    const loc = JSON.parse(sub.messages.find((x) => x.topic.endsWith('/v/Location'))!.payload).value;
    t.match(loc, { latitude: Number, longitude: Number }, 'Location is a location');
    await sub.close();
  });

  t.test('an error response is final: counted, never resent', async (t) => {
    const vin = emulatorVin(50);
    const v = new EmulatedVehicle({ vin, url, ca: pki.ca.certPem, cert: await pki.vehicle(vin), generate: false, resendTimeoutMs: 600 });
    const errors: string[] = [];
    v.on('error-response', (e: { txid: string }) => errors.push(e.txid));
    v.start();
    // Field 1 as a length-delimited record of 5 bytes, with only 1 there: not a V payload.
    const bad = v.enqueueRecord('V', Uint8Array.from([0x0a, 0x05, 0x01]));
    t.ok(await v.whenFinished(10_000), 'the refused frame reaches its outcome');
    await sleep(2000); // more than three resend timeouts
    let c = v.stats.type('V').counts;
    t.same(errors, [bad], 'it got an error');
    t.equal(c.errored, 1, 'errored');
    t.equal(c.sent, 1);
    t.equal(c.resent, 0, 'never resent');
    const good = v.enqueueRecord('V', new RecordFactory({ vin, seed: 1 }).next().payload);
    t.ok(await v.whenFinished(10_000));
    c = v.stats.type('V').counts;
    t.equal(c.acked, 1, 'the vehicle goes on: a good frame is acked');
    t.ok(
      [...v.stats.errorReasons.keys()].some((r) => r.includes('does not decode')),
      'the reason is kept',
    );
    t.notOk(summaryOk(v.stats), 'a run with an errored frame is not ok');
    await v.stop();
    t.equal(server.logs.filter((l) => l.event === 'payload_undecodable' && l.txid === bad).length, 1, 'the server saw it once');
    t.notOk(server.logs.some((l) => l.event === 'payload_undecodable' && l.txid === good));
  });
});
