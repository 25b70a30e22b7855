import t from 'tap';
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { readFrame } from '../src/envelope/index.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { makePki } from './helpers/pki.js';
import { sleep, waitUntil } from './helpers/ports.js';
import { startServer } from './helpers/server.js';
import { connectVehicle, vFrame, type VehicleClient } from './helpers/vehicle.js';

// No vehicle may hurt another: one vehicle pipelining thousands of 50-field frames (QoS 1, real
// mosquitto) must not make a vehicle sending a small frame every 100 ms wait for its acks, and
// the pipelining vehicle is slowed, not refused.
const BURST_VIN = '5YJ3E1EA7KF000601';
const VICTIM_VIN = '5YJ3E1EA7KF000602';
const BURST_FRAMES = Number(process.env.FAIRNESS_FRAMES ?? 10000);
const PUBLISH_TIMEOUT_MS = 2500;

/** Response arrival times by txid, stamped as they come. */
function stamp(v: VehicleClient): Map<string, number> {
  const at = new Map<string, number>();
  v.ws.on('message', (data: Buffer) => {
    const f = readFrame(data);
    if (!at.has(f.txid)) at.set(f.txid, performance.now());
  });
  return at;
}

const p = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];

t.test('a pipelining vehicle is slowed; another keeps being acked promptly', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const mosq = await startMosquitto(dir);
  t.teardown(() => mosq.stop());
  const server = await startServer(dir, {
    log_level: 'info',
    records: { V: ['mqtt'] },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
    mqtt: { broker: mosq.url, topic_base: 'fair', qos: 1, publish_timeout_ms: PUBLISH_TIMEOUT_MS },
  });
  t.teardown(() => server.stop());
  await server.waitForLog((l) => l.event === 'mqtt_connected');

  // The pipelining vehicle in a worker thread: on this one its frames and acks held the loop
  // that stamps the victim's acks.
  const burst = new Worker(new URL('./helpers/burst-sender.js', import.meta.url), {
    workerData: { port: server.port, caPem: pki.ca.certPem, cert: await pki.vehicle(BURST_VIN), vin: BURST_VIN, frames: BURST_FRAMES },
  });
  t.teardown(() => burst.terminate());
  const burstSays = { acked: 0, errors: 0, connected: false, closed: false };
  burst.on('message', (m: Partial<typeof burstSays>) => Object.assign(burstSays, m));
  const burstError = new Promise<never>((_, reject) => burst.once('error', reject));
  await Promise.race([waitUntil(() => burstSays.connected, Infinity, 'the burst vehicle to connect'), burstError]);
  const victim = await connectVehicle(server.port, await pki.vehicle(VICTIM_VIN), pki.ca.certPem);
  const victimAt = stamp(victim);
  const burstAnswered = () => burstSays.acked + burstSays.errors;

  const started = performance.now();
  burst.postMessage('go');

  // The victim sends while the burst is being worked through, and a little after.
  const sentAt = new Map<string, number>();
  let n = 0;
  while ((burstAnswered() < BURST_FRAMES || n < 20) && performance.now() - started < 60_000) {
    const txid = `victim-${n++}`;
    sentAt.set(txid, performance.now());
    victim.send(vFrame(txid, VICTIM_VIN, [{ key: 'VehicleSpeed', value: { float_value: n } }]));
    await sleep(100);
  }
  const burstSeconds = (performance.now() - started) / 1000;
  await waitUntil(() => [...sentAt.keys()].every((x) => victimAt.has(x)), 10_000, 'victim acks').catch(() => {});

  const unanswered = [...sentAt.keys()].filter((x) => !victimAt.has(x));
  t.same(unanswered, [], `every victim frame answered (${sentAt.size} sent)`);
  t.ok(
    victim.responses.every((r) => r.kind === 'ack'),
    'victim: acks only',
  );
  const lat = [...sentAt]
    .filter(([x]) => victimAt.has(x))
    .map(([x, s]) => victimAt.get(x)! - s)
    .sort((a, b) => a - b);
  const p50 = p(lat, 0.5);
  const p99 = p(lat, 0.99);
  t.comment(`victim: ${lat.length} frames, ack p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${lat.at(-1)!.toFixed(1)} ms`);
  t.ok(p99 < PUBLISH_TIMEOUT_MS / 3, `victim ack p99 ${p99.toFixed(0)} ms well under the ${PUBLISH_TIMEOUT_MS} ms publish timeout`);

  burst.postMessage('close');
  await Promise.race([waitUntil(() => burstSays.closed, Infinity, 'the burst vehicle to close'), burstError]);
  t.equal(burstSays.errors, 0, 'the pipelining vehicle gets no error response (slowed, not refused)');
  t.equal(burstSays.acked, BURST_FRAMES, `every burst frame acked (${burstSays.acked} of ${BURST_FRAMES} in ${burstSeconds.toFixed(1)} s)`);
  t.comment(`burst: ${BURST_FRAMES} frames x 50 fields in ${burstSeconds.toFixed(1)} s (${((BURST_FRAMES * 50) / burstSeconds).toFixed(0)} publishes/s)`);
  const hwm = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${server.proc.pid}/status`, 'utf8'))?.[1];
  if (hwm) t.comment(`server peak RSS ${(Number(hwm) / 1024).toFixed(0)} MB`);
  await victim.close();
});
