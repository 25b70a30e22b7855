/**
 * make chaos: the broker is restarted every 10 s for 60 s while many vehicles stream and resend
 * unanswered frames as cars do. Ends with the counts that matter: acked-but-missing fields must
 * be zero, error responses must be zero. Exit 1 otherwise.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMosquitto } from '../test/helpers/mosquitto.js';
import { makePki } from '../test/helpers/pki.js';
import { sleep } from '../test/helpers/ports.js';
import { startServer } from '../test/helpers/server.js';
import { subscribe } from '../test/helpers/subscriber.js';
import { connectVehicle, vFrame, type VehicleClient } from '../test/helpers/vehicle.js';
import { flagsOrExit, type FlagSpec } from './lib/args.js';

const SPEC = {
  vehicles: { type: 'number', default: 20, min: 1, int: true, help: 'vehicles streaming' },
  rate: { type: 'number', default: 10, min: 0.1, help: 'frames per second per vehicle' },
  duration: { type: 'number', default: 60, min: 1, help: 'seconds of streaming' },
  'restart-every': { type: 'number', default: 10, min: 1, help: 'seconds between broker restarts' },
  'resend-ms': { type: 'number', default: 2000, min: 1, help: 'resend an unanswered frame after this' },
  help: { type: 'bool', default: false, help: 'this text' },
} satisfies Record<string, FlagSpec>;
const flags = flagsOrExit(process.argv.slice(2), SPEC, 'usage: node build/bench/chaos.js [flags]   (make chaos)');
const VEHICLES = flags.vehicles!;
const RATE = flags.rate!;
const DURATION_S = flags.duration!;
const RESTART_EVERY_S = flags['restart-every']!;
const RESEND_MS = flags['resend-ms']!;

const FIELDS = (i: number) => [
  { key: 'Odometer', value: { double_value: i } },
  { key: 'VehicleSpeed', value: { float_value: i } },
  { key: 'ChargeAmps', value: { int_value: i } },
  { key: 'VehicleName', value: { string_value: `n${i}` } },
];
const FIELD_NAMES = ['Odometer', 'VehicleSpeed', 'ChargeAmps', 'VehicleName'];

interface Car {
  vin: string;
  client?: VehicleClient;
  next: number;
  unacked: Map<string, { frame: Uint8Array; sentAt: number; seq: number }>;
  acked: Set<number>;
  seen: number;
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'ft-chaos-'));
  const pki = await makePki(dir);
  const mosq = await startMosquitto(dir, { persistent: true });
  const sub = await subscribe(mosq.url, 'chaos/+/v/#', { clientId: 'chaos-subscriber', clean: false, qos: 1 });
  const server = await startServer(dir, {
    log_level: 'info',
    records: { V: ['mqtt'] },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
    mqtt: { broker: mosq.url, topic_base: 'chaos', qos: 1, publish_timeout_ms: 1500, connect_retry_interval_ms: 250, connect_retry_max_interval_ms: 2000 },
  });
  const cars: Car[] = [];
  for (let k = 0; k < VEHICLES; k++) {
    const vin = `CHAOS${String(k).padStart(12, '0')}`;
    const car: Car = { vin, next: 0, unacked: new Map(), acked: new Set(), seen: 0 };
    car.client = await connectVehicle(server.port, await pki.vehicle(vin), pki.ca.certPem);
    cars.push(car);
  }
  let sent = 0;
  let resent = 0;
  const collect = (car: Car) => {
    const rs = car.client!.responses;
    for (; car.seen < rs.length; car.seen++) {
      const r = rs[car.seen];
      const u = car.unacked.get(r.txid);
      if (r.kind === 'ack' && u) {
        car.acked.add(u.seq);
        car.unacked.delete(r.txid);
      }
    }
  };
  const started = Date.now();
  let restarts = 0;
  const chaos = (async () => {
    while (Date.now() - started < DURATION_S * 1000 - 1000) {
      await sleep(RESTART_EVERY_S * 1000);
      if (Date.now() - started >= DURATION_S * 1000) break;
      await mosq.restart();
      restarts++;
      process.stderr.write(`broker restarted (${restarts}) at ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    }
  })();
  const tick = 1000 / RATE;
  let last = Date.now();
  while (Date.now() - started < DURATION_S * 1000) {
    await sleep(Math.max(0, tick - (Date.now() - last)));
    last = Date.now();
    for (const car of cars) {
      collect(car);
      const seq = car.next++;
      const txid = `${car.vin}-${seq}`;
      const frame = vFrame(txid, car.vin, FIELDS(seq));
      car.unacked.set(txid, { frame, sentAt: last, seq });
      car.client!.send(frame);
      sent++;
      for (const [, u] of car.unacked) {
        if (last - u.sentAt >= RESEND_MS) {
          car.client!.send(u.frame);
          u.sentAt = last;
          resent++;
        }
      }
    }
  }
  await chaos;
  // Drain: keep resending what is unanswered until it is acked.
  const drainEnd = Date.now() + 30_000;
  while (Date.now() < drainEnd && cars.some((c) => (collect(c), c.unacked.size > 0))) {
    await sleep(200);
    const now = Date.now();
    for (const car of cars) {
      for (const [, u] of car.unacked) {
        if (now - u.sentAt >= RESEND_MS) {
          car.client!.send(u.frame);
          u.sentAt = now;
          resent++;
        }
      }
    }
  }
  await sleep(3000); // let the persistent subscriber catch up
  const delivered = new Map<string, Set<string>>();
  for (const m of sub.messages) {
    const [, vin, , field] = m.topic.split('/');
    const v = JSON.parse(m.payload).value;
    const key = `${vin}|${field}`;
    let s = delivered.get(key);
    if (!s) delivered.set(key, (s = new Set()));
    s.add(String(field === 'VehicleName' ? String(v).slice(1) : v));
  }
  let ackedFrames = 0;
  let missing = 0;
  for (const car of cars) {
    ackedFrames += car.acked.size;
    for (const seq of car.acked) {
      for (const f of FIELD_NAMES) if (!delivered.get(`${car.vin}|${f}`)?.has(String(seq))) missing++;
    }
  }
  const errors = cars.reduce((n, c) => n + c.client!.responses.filter((r) => r.kind === 'error').length, 0);
  const unacked = cars.reduce((n, c) => n + c.unacked.size, 0);
  const summary = {
    vehicles: VEHICLES,
    duration_s: DURATION_S,
    broker_restarts: restarts,
    frames_sent: sent,
    frames_resent: resent,
    frames_acked: ackedFrames,
    frames_unacked_at_end: unacked,
    error_responses: errors,
    acked_but_missing_fields: missing,
  };
  for (const c of cars) await c.client!.close();
  await server.stop();
  await sub.close();
  await mosq.stop();
  rmSync(dir, { recursive: true, force: true });
  console.log(JSON.stringify(summary, null, 2));
  const ok = missing === 0 && errors === 0 && unacked === 0;
  console.log(ok ? 'chaos: PASS' : 'chaos: FAIL');
  process.exit(ok ? 0 : 1);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
