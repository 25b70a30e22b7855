import t from 'tap';
import { Car, FIELDS } from '../test-cluster/fleet.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { makePki } from './helpers/pki.js';
import { deadline, sleep } from './helpers/ports.js';
import { brokerConnected, startServer } from './helpers/server.js';
import { startSlowBroker } from './helpers/slow-broker.js';
import { subscribe } from './helpers/subscriber.js';

// A broker slower than the vehicles: acknowledgements capped at ACKS_PER_S and every reply
// LATENCY_MS late, vehicles offering more than that and resending what is unanswered. A slow
// broker must slow the fleet, never collapse it: the broker's capacity goes to fields not yet
// published (goodput near the cap), almost nothing arrives twice, and every frame is acked.

const ACKS_PER_S = 300;
const LATENCY_MS = 40;
// 8 × 20 frames/s × 4 fields: 640 fields/s offered, over twice the cap, so the vehicles offer
// more than the broker takes even when a busy machine slows them down.
const CARS = 8;
const PERIOD_MS = 50;
const PRODUCE_MS = 10_000;
const RESEND_MS = 1500;

t.test('rate-capped, distant broker: goodput ≥ 90 % of the cap, duplicates ≤ 5 %, every frame acked', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const mosq = await startMosquitto(dir);
  t.teardown(() => mosq.stop());
  const slow = await startSlowBroker(mosq.port, { acksPerSecond: ACKS_PER_S, latencyMs: LATENCY_MS });
  t.teardown(() => slow.stop());
  const sub = await subscribe(mosq.url, 'sb/+/v/+');
  t.teardown(() => sub.close());
  const server = await startServer(dir, {
    records: { V: ['mqtt'] },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
    // A deadline the capped broker's queue soon exceeds: the run that collapsed.
    mqtt: { broker: slow.url, topic_base: 'sb', qos: 1, publish_timeout_ms: 1000 },
    monitoring: { prometheus_metrics_port: 0 },
  });
  t.teardown(() => server.stop());
  await brokerConnected(server);
  const monitorPort = (await server.waitForLog((l) => l.event === 'monitoring_listening')).port as number;

  const start = Date.now();
  const cars = Array.from(
    { length: CARS },
    (_, i) => new Car(`5YJ3E1EA7KF40000${i}`, i + 1, server.port, pki, 'sb', { periodMs: PERIOD_MS, resendMs: RESEND_MS }),
  );
  t.teardown(() => cars.forEach((c) => c.stop()));
  const runs = cars.map((c) => c.run(start + PRODUCE_MS));
  // The saturated window: from 3 s in (the first window's overshoot worked off) to the end of production.
  const from = start + 3000;
  const to = start + PRODUCE_MS;
  const firstSeen = new Map<string, number>();
  let seenUpTo = 0;
  const track = () => {
    const now = Date.now();
    for (; seenUpTo < sub.messages.length; seenUpTo++) {
      const m = sub.messages[seenUpTo];
      const k = `${m.topic} ${m.payload}`;
      if (!firstSeen.has(k)) firstSeen.set(k, now);
    }
  };
  const tracker = setInterval(track, 20);
  t.teardown(() => clearInterval(tracker));
  // Every frame is acked once the vehicles stop producing and the broker works off the backlog.
  const outcome = await Promise.race([Promise.all(runs), deadline(PRODUCE_MS + 60_000)]);
  cars.forEach((c) => c.stop());
  await sleep(500);
  track();
  clearInterval(tracker);

  const frames = cars.reduce((n, c) => n + c.frames.size, 0);
  const acked = cars.reduce((n, c) => n + [...c.frames.values()].filter((f) => f.ackedAt !== undefined).length, 0);
  const resends = cars.reduce((n, c) => n + c.resends, 0);
  const distinct = firstSeen.size;
  const messages = sub.messages.length;
  // Goodput: fields of frames acked to the vehicles per second (each frame once), and fields new
  // to the subscriber per second, over the saturated window.
  const ackedIn = cars.reduce((n, c) => n + c.ackTimes.filter((at) => at >= from && at < to).length, 0);
  const goodput = (ackedIn * FIELDS.length) / ((to - from) / 1000);
  const delivered = [...firstSeen.values()].filter((at) => at >= from && at < to).length / ((to - from) / 1000);
  const duplicates = messages - distinct;
  const metrics = await (await fetch(`http://127.0.0.1:${monitorPort}/metrics`)).text();
  const metric = (line: string) =>
    Number(
      metrics
        .split('\n')
        .find((l) => l.startsWith(`fleet_telemetry_${line} `))
        ?.split(' ')
        .at(-1) ?? 0,
    );
  t.comment(
    `frames ${frames} (${frames * FIELDS.length} fields offered in ${PRODUCE_MS / 1000} s), acked ${acked}, resends ${resends}, ` +
      `broker acks ${slow.acks()}, subscriber messages ${messages} (${distinct} distinct, ${duplicates} duplicates), ` +
      `goodput ${goodput.toFixed(0)} fields/s acked (${delivered.toFixed(0)}/s new at the subscriber) of a ${ACKS_PER_S}/s cap, run ${((Date.now() - start) / 1000).toFixed(1)} s, ` +
      `resends joined ${metric('resends_joined_total')}, acked again ${metric('frames_received_total{record_type="V",outcome="acked_resend"}')}, ` +
      `overdue ${metric('broker_records_overdue_total{producer="mqtt"}')}, deadline ${metric('broker_publish_deadline_seconds{producer="mqtt"}')} s, ` +
      `window ${metric('broker_admission_window{producer="mqtt"}')}`,
  );
  t.not(outcome, 'timeout', 'the vehicles finished: every frame acked');
  t.equal(acked, frames, `every frame eventually acked (${acked} of ${frames})`);
  t.same(
    cars.flatMap((c) => c.errors),
    [],
    'no error responses',
  );
  t.ok(frames * FIELDS.length > (ACKS_PER_S * PRODUCE_MS) / 1000, 'the vehicles offered more than the broker takes');
  t.ok(goodput >= 0.9 * ACKS_PER_S, `goodput ${goodput.toFixed(0)} fields/s acked ≥ 90 % of the ${ACKS_PER_S}/s cap`);
  t.ok(delivered >= 0.9 * ACKS_PER_S, `${delivered.toFixed(0)} new fields/s at the subscriber ≥ 90 % of the cap`);
  t.ok(duplicates <= 0.05 * distinct, `duplicates ${duplicates} ≤ 5 % of ${distinct} fields`);
  t.equal(distinct, frames * FIELDS.length, 'every field of every frame at the subscriber');
});
