import t from 'tap';
import { pino } from 'pino';
import { Batch, MqttLink } from '../src/producers/mqtt/link.js';
import { parseBrokerUrl } from '../src/producers/mqtt/transport.js';
import type { Publish } from '../src/publish/plan.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { sleep, waitUntil } from './helpers/ports.js';
import { startSlowBroker } from './helpers/slow-broker.js';
import { subscribe } from './helpers/subscriber.js';

// Past its deadline a record is answered "not yet", but what was written of it stays in flight:
// a late acknowledgement completes it, and a resend is answered by it, sending only what was
// never written. Nothing reaches the broker twice.

t.test('a record written in part when its deadline passed: the resend sends the rest, each publish once', async (t) => {
  const dir = t.testdir();
  const mosq = await startMosquitto(dir);
  t.teardown(() => mosq.stop());
  const sub = await subscribe(mosq.url, 'od/#', { qos: 2 });
  t.teardown(() => sub.close());
  const link = new MqttLink({
    endpoint: parseBrokerUrl(mosq.url, {}),
    connect: { clientId: `overdue-${process.pid}`, keepAliveSeconds: 60, cleanSession: true },
    connectTimeoutMs: 2000,
    retryMaxMs: 1000,
    publishTimeoutMs: 300,
    publishTimeoutMaxMs: 300,
    // 10 QoS 2 publishes awaiting PUBCOMP at once: a 30-publish record goes out in three parts.
    qos2Window: 10,
    logger: pino({ level: 'silent' }),
  });
  link.start();
  t.teardown(() => link.close(100));
  await waitUntil(() => link.connected, 5000, 'connected');

  const pubs: Publish[] = Array.from({ length: 30 }, (_, k) => ({ topic: `od/f${k}`, payload: String(k), qos: 2, retain: false }));
  mosq.pause();
  const answers: (Error | undefined)[] = [];
  const b = new Batch(pubs, (err) => answers.push(err), Date.now() + 300);
  link.send(b);
  await waitUntil(() => answers.length === 1, 3000, 'the first answer');
  t.match(answers[0], { code: 'publish_timeout' }, 'not yet: the deadline passed');
  t.notOk(b.settled, 'the written part is still in flight');
  t.equal(b.unsent(), 20, 'ten written, twenty kept for a resend');
  t.equal(link.queuedPublishes(), 0, 'nothing of it queued meanwhile');
  t.equal(link.overdue(), 1, 'counted as overdue');

  mosq.resume();
  await sleep(300);
  t.notOk(b.settled, 'the late PUBCOMPs completed the written ten, not the record');
  const again: (Error | undefined)[] = [];
  t.ok(
    link.answerAgain(b, (err) => again.push(err), Date.now() + 2000),
    'the resend waits on the record',
  );
  await waitUntil(() => again.length === 1, 3000, 'the resend answered');
  t.equal(again[0], undefined, 'acked once the rest was acknowledged');
  t.ok(b.settled);
  await sub.waitFor((m) => m.length >= 30, 3000);
  await sleep(200);
  t.same(sub.messages.map((m) => m.topic).sort(), pubs.map((p) => p.topic).sort(), 'each of the 30 publishes reached the broker once');
  t.notOk(
    link.answerAgain(b, () => {}, Date.now() + 1000),
    'a settled record cannot be waited on again',
  );
});

t.test('a record written whole: a late PUBACK completes it; the connection lost fails it', async (t) => {
  const dir = t.testdir();
  const mosq = await startMosquitto(dir);
  t.teardown(() => mosq.stop());
  const linkTo = (url: string, name: string) => {
    const link = new MqttLink({
      endpoint: parseBrokerUrl(url, {}),
      connect: { clientId: `${name}-${process.pid}`, keepAliveSeconds: 60, cleanSession: true },
      connectTimeoutMs: 5000,
      retryMaxMs: 60_000,
      publishTimeoutMs: 200,
      qos2Window: 10,
      logger: pino({ level: 'silent' }),
    });
    link.start();
    t.teardown(() => link.close(100));
    return link;
  };
  const record = (tag: string) => Array.from({ length: 5 }, (_, k): Publish => ({ topic: `od2/${tag}/${k}`, payload: 'x', qos: 1, retain: false }));

  // Every reply 600 ms late: the acknowledgements come after the 200 ms deadline.
  const late = await startSlowBroker(mosq.port, { acksPerSecond: 10_000, latencyMs: 600 });
  t.teardown(() => late.stop());
  const link = linkTo(late.url, 'overdue-late');
  await waitUntil(() => link.connected, 5000, 'connected');
  const answers: (Error | undefined)[] = [];
  const settled: (Error | undefined)[] = [];
  const a = new Batch(record('a'), (err) => answers.push(err), Date.now() + 200);
  a.onSettled = (err) => settled.push(err);
  link.send(a);
  await waitUntil(() => answers.length === 1, 3000, 'answered at the deadline');
  t.match(answers[0], { code: 'publish_timeout' });
  t.equal(a.unsent(), 0, 'written whole');
  await waitUntil(() => settled.length === 1, 3000, 'completed by the late PUBACKs');
  t.equal(settled[0], undefined, 'acknowledged after all');
  t.equal(answers.length, 1, 'and answered only once');

  // Acknowledgements a minute late, then the connection goes: the publishes in flight fail with it.
  const gone = await startSlowBroker(mosq.port, { acksPerSecond: 10_000, latencyMs: 0, ackDelayMs: 60_000 });
  t.teardown(() => gone.stop());
  const link2 = linkTo(gone.url, 'overdue-gone');
  await waitUntil(() => link2.connected, 5000, 'connected');
  const b = new Batch(record('b'), () => {}, Date.now() + 200);
  const lost: (Error | undefined)[] = [];
  b.onSettled = (err) => lost.push(err);
  link2.send(b);
  await sleep(400);
  t.notOk(b.settled, 'overdue, in flight');
  await gone.stop();
  await waitUntil(() => lost.length === 1, 5000, 'failed with the connection');
  t.match(lost[0], { code: 'connection_lost' }, 'lost with the connection: a resend publishes it anew');
});
