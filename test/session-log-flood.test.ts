import t from 'tap';
import type { Test } from 'tap';
import { writeStreamFrame } from '../src/envelope/index.js';
import { makePki } from './helpers/pki.js';
import { sleep, waitUntil } from './helpers/ports.js';
import { startServer, type ServerProcess } from './helpers/server.js';
import { connectVehicle, vFrame, vPayload, type VehicleClient } from './helpers/vehicle.js';

// Vehicles must not control the log volume: tens of thousands of hostile frames, on one
// connection and across several, leave a bounded log, exact counters, and a victim that keeps
// being acked.
const VICTIM_VIN = '5YJ3E1EA7KF000702';
const LOG_BUDGET = 200_000;

function hostile(vin: string, i: number): Uint8Array {
  switch (i % 4) {
    case 0:
      return Buffer.from(`garbage ${i} `.repeat(8)); // unreadable
    case 1: // undecodable payload under a long txid
      return writeStreamFrame({ txid: `t${i}-` + 'x'.repeat(i % 400 === 1 ? 200_000 : 4_000), recordType: 'V', payload: new Uint8Array([0x0a, 0xff]) });
    case 2: // undecodable, with a record type the vehicle made up... but routed type V and a huge sender
      return writeStreamFrame({ txid: `u${i}`, recordType: 'V', payload: new Uint8Array([0x0a, 0x05, 1]), senderId: 'S'.repeat(8_000) });
    default: // readable and decodable, sender_id naming another vehicle (a long one)
      return writeStreamFrame({
        txid: `s${i}`,
        recordType: 'V',
        payload: vPayload([{ key: 'VehicleSpeed', value: { float_value: i } }]),
        senderId: 'other-' + 'y'.repeat(10_000),
      });
  }
}

/** Sum of frames_received_total samples with this outcome. */
async function framesWithOutcome(port: number, outcome: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let sum = 0;
  for (const m of text.matchAll(/^\w*frames_received_total\{([^}]*)\} (\S+)$/gm)) if (m[1].includes(`outcome="${outcome}"`)) sum += Number(m[2]);
  return sum;
}

async function victimLoop(v: VehicleClient, vin: string, stop: () => boolean): Promise<string[]> {
  const sent: string[] = [];
  while (!stop()) {
    const txid = `victim-${sent.length}`;
    sent.push(txid);
    v.send(vFrame(txid, vin, [{ key: 'VehicleSpeed', value: { float_value: sent.length } }]));
    await sleep(100);
  }
  return sent;
}

let dir: string;
let pki: Awaited<ReturnType<typeof makePki>>;
let server: ServerProcess;
let monitoring: number;
let logBytes = 0;
let longest = 0;

t.before(async () => {
  dir = t.testdir();
  pki = await makePki(dir);
  server = await startServer(dir, {
    records: { V: ['mqtt'] },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
    mqtt: { broker: 'embedded', embedded_port: 0, topic_base: 'flood', qos: 1 },
    monitoring: { prometheus_metrics_port: 0 },
  });
  await server.waitForLog((l) => l.event === 'mqtt_connected');
  monitoring = (await server.waitForLog((l) => l.event === 'monitoring_listening')).port as number;
  let partial = 0;
  server.proc.stdout!.on('data', (c: string) => {
    logBytes += Buffer.byteLength(c);
    for (const piece of c.split('\n').slice(0, -1)) {
      longest = Math.max(longest, partial + piece.length);
      partial = 0;
    }
    partial += c.length - (c.lastIndexOf('\n') + 1);
  });
});
t.teardown(() => server?.stop());

async function flood(t: Test, connections: number, perConnection: number) {
  const before = {
    bytes: logBytes,
    unreadable: await framesWithOutcome(monitoring, 'error_unreadable'),
    undecodable: await framesWithOutcome(monitoring, 'error_undecodable'),
  };
  const victim = await connectVehicle(server.port, await pki.vehicle(VICTIM_VIN), pki.ca.certPem);
  let done = false;
  const victimRun = victimLoop(victim, VICTIM_VIN, () => done);
  const cars = await Promise.all(
    Array.from({ length: connections }, async (_, c) =>
      connectVehicle(server.port, await pki.vehicle(`5YJ3E1EA7KF0008${String(c).padStart(2, '0')}`), pki.ca.certPem),
    ),
  );
  for (const [c, car] of cars.entries()) for (let i = 0; i < perConnection; i++) car.send(hostile(`car${c}`, i));
  await waitUntil(() => cars.every((car) => car.responses.length === perConnection), 120_000, 'a response to every hostile frame');
  done = true;
  const sent = await victimRun;
  await waitUntil(() => sent.every((x) => victim.responses.some((r) => r.txid === x)), 10_000, 'victim acks').catch(() => {});
  for (const car of cars) await car.close();
  await victim.close();
  await sleep(300);

  const total = connections * perConnection;
  const bytes = logBytes - before.bytes;
  t.comment(`${total} hostile frames on ${connections} connection(s): ${bytes} bytes of log, longest line ${longest} bytes`);
  t.ok(bytes < LOG_BUDGET, `log bounded: ${bytes} bytes < ${LOG_BUDGET}`);
  t.ok(longest < 4_000, `no line carries a vehicle's text whole (longest ${longest} bytes)`);
  const missing = sent.filter((x) => !victim.responses.some((r) => r.txid === x && r.kind === 'ack'));
  t.same(missing, [], `the victim kept being acked (${sent.length} frames)`);
  const per = (k: number) => Math.ceil((perConnection - k) / 4) * connections;
  t.equal((await framesWithOutcome(monitoring, 'error_unreadable')) - before.unreadable, per(0), 'unreadable frames counted exactly');
  t.equal((await framesWithOutcome(monitoring, 'error_undecodable')) - before.undecodable, per(1) + per(2), 'undecodable frames counted exactly');
  const metrics = await (await fetch(`http://127.0.0.1:${monitoring}/metrics`)).text();
  const suppressed = [...metrics.matchAll(/^\w*log_lines_suppressed_total\{[^}]*\} (\S+)$/gm)].reduce((a, m) => a + Number(m[1]), 0);
  t.ok(suppressed >= total / 2, `lines left out are counted (${suppressed})`);
}

t.test('20,000 hostile frames on one connection', (t) => flood(t, 1, 20_000));
t.test('20,000 hostile frames across 10 connections', (t) => flood(t, 10, 2_000));
