import t from 'tap';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pino } from 'pino';
import { Batch, MqttLink } from '../src/producers/mqtt/link.js';
import { parseBrokerUrl } from '../src/producers/mqtt/transport.js';
import type { Publish } from '../src/publish/plan.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { sleep, waitUntil } from './helpers/ports.js';

// Memory stays bounded while mosquitto is hung (SIGSTOP): what timed out is let go at its
// deadline, even with every packet id taken and no flush able to run.

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
function heapMb(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

const TIMEOUT_MS = 1500;
const FIELDS = 50;

/** A record's publishes, fresh strings each time as the planner makes them. */
function record(i: number): Publish[] {
  const out: Publish[] = new Array(FIELDS);
  for (let k = 0; k < FIELDS; k++)
    out[k] = { topic: `mem/VIN${i % 1000}/v/Field${k}`, payload: `{"value":${i * 1000 + k},"pad":"${'p'.repeat(60)}"}`, qos: 1, retain: false };
  return out;
}

t.test('hung broker: queued publishes and heap go back down at the deadline, whatever was offered', async (t) => {
  const dir = t.testdir();
  const mosq = await startMosquitto(dir);
  t.teardown(() => mosq.stop());
  const link = new MqttLink({
    endpoint: parseBrokerUrl(mosq.url, {}),
    connect: { clientId: `mem-${process.pid}`, keepAliveSeconds: 120, cleanSession: true },
    connectTimeoutMs: 2000,
    retryMaxMs: 1000,
    publishTimeoutMs: TIMEOUT_MS,
    qos2Window: 20,
    logger: pino({ level: 'silent' }),
  });
  link.start();
  t.teardown(() => link.close(100));
  await waitUntil(() => link.connected, 5000, 'link connected');
  let acked = 0;
  let failed = 0;
  const done = (err?: Error) => (err ? failed++ : acked++);
  const offer = (i: number) => link.send(new Batch(record(i), done, Date.now() + TIMEOUT_MS));

  offer(0);
  await waitUntil(() => acked === 1, 5000, 'first record acked');
  const base = heapMb();

  mosq.pause();
  t.teardown(() => mosq.resume());
  const pausedAt = Date.now();
  // As the server does: offer only while the producer has room.
  let admitted = 0;
  while (link.hasRoom()) offer(++admitted);
  t.ok(admitted * FIELDS <= link.admissionLimit().limit + FIELDS, `admission stopped at ${admitted} records`);

  // A caller that ignores admission: 20 records of 50 publishes every 10 ms for 5 s.
  let offered = admitted;
  let mid = 0;
  let midQueued = 0;
  const heapSeries: number[] = [];
  for (let tick = 0; tick < 500; tick++) {
    for (let r = 0; r < 20; r++) offer(++offered);
    await sleep(10);
    if (tick % 100 === 99) heapSeries.push(Math.round(heapMb()));
    if (tick === 249) {
      mid = heapMb();
      midQueued = link.queuedPublishes();
    }
  }
  const late = heapMb();
  const lastQueued = link.queuedPublishes();
  // Past the last record's deadline, nothing offered during the hang is held any more.
  await sleep(TIMEOUT_MS + 300);
  const after = heapMb();
  t.comment(`offered ${offered} records (${offered * FIELDS} publishes) in ${((Date.now() - pausedAt) / 1000).toFixed(1)} s of hang`);
  t.comment(
    `heap MB: base ${base.toFixed(1)}, mid ${mid.toFixed(1)} (queued ${midQueued}), late ${late.toFixed(1)} (queued ${lastQueued}), after deadline ${after.toFixed(1)}; series ${heapSeries.join(' ')}`,
  );
  t.equal(link.queuedPublishes(), 0, 'no queued publish after the deadline');
  t.equal(link.unsettled(), 0, 'no unsettled record');
  t.ok(link.inFlight() <= 65_535, `in flight ${link.inFlight()}: at most the packet-id window`);
  t.equal(failed, offered, 'every record offered during the hang failed (timed out), none left hanging');
  t.ok(lastQueued <= (TIMEOUT_MS / 10 + 20) * 20 * FIELDS, 'queue bounded by the deadline');
  t.ok(after - base < 20, `heap after the deadline within 20 MB of before the hang (+${(after - base).toFixed(1)} MB)`);
  t.ok(late - mid < 15, `heap does not grow with records offered (mid → late: ${(late - mid).toFixed(1)} MB)`);

  mosq.resume();
  await waitUntil(() => link.hasRoom(), 10_000, 'room again once the broker answers');
  const before = acked;
  offer(offered + 1);
  await waitUntil(() => acked === before + 1, 10_000, 'a new record acked after the resume');
  t.equal(link.reconnects, 0, 'the same connection throughout');
});
