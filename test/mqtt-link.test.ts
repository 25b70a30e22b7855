import t, { type Test } from 'tap';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { parseConfig } from '../src/config/load.js';
import { Batch, MqttLink, type LinkOptions } from '../src/producers/mqtt/link.js';
import { parseBrokerUrl } from '../src/producers/mqtt/transport.js';
import { builtinProducers } from '../src/producers/registry.js';
import { InvalidRecord, isPermanent } from '../src/producers/types.js';
import type { Publish } from '../src/publish/plan.js';
import type { VehicleRecord } from '../src/record/types.js';
import { fixturesDir } from './helpers/fixtures.js';
import { startMosquitto, type Mosquitto } from './helpers/mosquitto.js';
import { sleep, waitUntil } from './helpers/ports.js';
import { subscribe } from './helpers/subscriber.js';

// The link against a real mosquitto: records it can never send are refused whole and leave the
// connection alone; admission follows what the broker acknowledges; an outage is two log lines.

type Line = Record<string, unknown> & { level: number; time: number; event?: string };

function capture(level = 'debug') {
  const lines: Line[] = [];
  const out = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { lines, logger: pino({ level }, out) };
}

const WARN = 40;
const INFO = 30;

function makeLink(t: Test, mosq: Mosquitto, extra: Partial<LinkOptions> = {}) {
  const log = capture();
  const link = new MqttLink({
    endpoint: parseBrokerUrl(mosq.url, {}),
    connect: { clientId: `link-test-${process.pid}-${Math.random().toString(36).slice(2)}`, keepAliveSeconds: 60, cleanSession: true },
    connectTimeoutMs: 1000,
    retryMaxMs: 10_000,
    publishTimeoutMs: 2500,
    qos2Window: 20,
    logger: log.logger,
    ...extra,
  });
  link.start();
  t.teardown(() => link.close(100));
  return { link, lines: log.lines };
}

/** Hands a record's publishes to the link; resolves undefined when acked, or the error. */
function send(link: MqttLink, pubs: Publish[], timeoutMs = 2500): Promise<Error | undefined> {
  return new Promise((resolve) => link.send(new Batch(pubs, (err) => resolve(err), Date.now() + timeoutMs)));
}

const pub = (topic: string, payload = 'x', qos: 0 | 1 | 2 = 1): Publish => ({ topic, payload, qos, retain: false });

t.test('a record the broker could never take is refused whole, and the connection carries on', async (t) => {
  const dir = t.testdir();
  const mosq = await startMosquitto(dir);
  t.teardown(() => mosq.stop());
  const sub = await subscribe(mosq.url, '#');
  t.teardown(() => sub.close());
  const { link, lines } = makeLink(t, mosq);
  await waitUntil(() => link.connected, 5000, 'link connected');

  t.equal(await send(link, [pub('ok/0')]), undefined, 'a valid record is acked');

  const long = 'L'.repeat(65_545); // its 2-byte length used to wrap to 9
  const cases: [string, Publish[], RegExp][] = [
    ['a 65,545-byte topic', [pub('bad/1/first'), pub(long), pub('bad/1/last')], /topic of 65545 bytes exceeds the MQTT limit of 65535 bytes/],
    ['a topic with U+0001', [pub('bad/2/first'), pub('bad/2/\u0001'), pub('bad/2/last')], /control character U\+0001/],
    ['a wildcard', [pub('bad/3/first'), pub('bad/3/+')], /wildcard '\+'/],
    ['a lone surrogate', [pub('bad/4/first'), pub('bad/4/\ud800')], /lone surrogate/],
    ['QoS 3', [pub('bad/5/first'), { ...pub('bad/5/q'), qos: 3 as 1 }], /QoS 3/],
  ];
  for (const [what, pubs, message] of cases) {
    const err = await send(link, pubs);
    t.type(err, InvalidRecord, `${what}: InvalidRecord`);
    t.ok(isPermanent(err), `${what}: permanent (the vehicle gets an error, not a resend loop)`);
    t.match(err?.message, message, `${what}: the message names the limit`);
    t.match(err?.message, /publish \d of \d \(topic /, `${what}: and which publish`);
  }

  t.equal(await send(link, []), undefined, 'a record with nothing to publish is taken at once');
  // A publish changed after it was measured: refused at the write, nothing of the flush sent.
  const changed = [pub('bad/6/first'), pub('bad/6/topic-that-shrinks')];
  const late = send(link, changed);
  changed[1].topic = 'bad/6/t';
  t.match(await late, { code: 'packet_invalid' }, 'a publish changed after it was taken fails, without taking the process down');

  t.equal(await send(link, [pub('ok/1', 'after'), pub('ok/2', 'after', 2)]), undefined, 'the next valid record is acked');
  await sub.waitFor((m) => m.some((x) => x.topic === 'ok/2'), 5000, 'the valid record at the subscriber');
  const topics = sub.messages.map((m) => m.topic);
  t.same(topics, ['ok/0', 'ok/1', 'ok/2'], 'nothing of a refused record reached the broker (not even its valid publishes)');
  t.equal(link.reconnects, 0, 'no reconnect');
  t.ok(link.connected);
  t.notOk(
    lines.some((l) => l.event === 'mqtt_disconnected'),
    'the broker never dropped the connection',
  );
  t.equal(link.unsettled(), 0);
  t.equal(link.held(), 0);
});

t.test('producer: an alert name over the topic limit rejects with InvalidRecord; the next record is acked', async (t) => {
  const dir = t.testdir();
  const mosq = await startMosquitto(dir);
  t.teardown(() => mosq.stop());
  const sub = await subscribe(mosq.url, '#');
  t.teardown(() => sub.close());
  const config = parseConfig(
    JSON.stringify({ records: { alerts: ['mqtt'] }, tls: { server_cert: 's.pem', server_key: 's.key' }, mqtt: { broker: mosq.url, qos: 1, topic_base: 'pv' } }),
    join(fixturesDir(), 'config.json'),
    {},
  );
  const producer = await builtinProducers.mqtt({ name: 'mqtt', config, logger: pino({ level: 'silent' }), options: {} });
  producer.start?.();
  t.teardown(() => producer.close());
  await waitUntil(() => producer.ready?.(), 5000, 'producer connected');
  const alerts = (names: string[]): VehicleRecord => ({
    type: 'alerts',
    vin: 'VIN1',
    txid: 'a',
    payload: new Uint8Array(),
    alerts: names.map((name) => ({ name, audiences: [], startedAt: { seconds: 1700000000n, nanos: 0 } })),
  });
  // A name too long for a level can never be published: InvalidRecord, nothing of the record sent.
  await t.rejects(
    producer.produce(alerts(['Fine', 'N'.repeat(65_545)])),
    { code: 'record_invalid', permanent: true, message: /limit is 256/ },
    'rejected as invalid, not as a broker failure',
  );
  // A control character is sanitised before it reaches the encoder (which would refuse it).
  await t.resolves(producer.produce(alerts(['ctl\u0001'])), 'a control character: sanitised and acked');
  await t.resolves(producer.produce(alerts(['Fine'])), 'the next record is acked');
  // The last publish of the last record: the broker forwards one client's publishes in order, so
  // everything before it has arrived too.
  await sub.waitFor((m) => m.some((x) => x.topic === 'pv/VIN1/alerts/Fine/history'), 5000);
  t.notOk(
    sub.messages.some((m) => m.topic.includes('NNNN')),
    'no trace of the refused record',
  );
  t.same(
    sub.messages
      .filter((m) => m.topic.startsWith('pv/VIN1/'))
      .map((m) => m.topic)
      .sort(),
    ['pv/VIN1/alerts/Fine/current', 'pv/VIN1/alerts/Fine/history', 'pv/VIN1/alerts/ctl_/current', 'pv/VIN1/alerts/ctl_/history'],
    'only the good records',
  );
});

t.test('admission: no room once a hung broker holds the floor, room again once it answers', async (t) => {
  const dir = t.testdir();
  const mosq = await startMosquitto(dir);
  t.teardown(() => mosq.stop());
  const { link } = makeLink(t, mosq, { publishTimeoutMs: 4000 });
  await waitUntil(() => link.connected, 5000, 'link connected');
  const fifty = (i: number) => Array.from({ length: 50 }, (_, k) => pub(`adm/${i}/${k}`, `{"value":${k}}`));
  t.equal(await send(link, fifty(0)), undefined, 'acked while the broker answers');
  t.ok(link.hasRoom(), 'room at rest');
  const floor = link.admissionLimit().limit;
  t.equal(floor, 4096, 'the floor admits a fresh link');

  mosq.pause();
  t.teardown(() => mosq.resume());
  let rooms = 0;
  link.onRoom(() => rooms++);
  const results: Promise<Error | undefined>[] = [];
  let offered = 0;
  while (link.hasRoom() && offered < 10_000) results.push(send(link, fifty(++offered), 4000));
  t.equal(offered, Math.ceil(floor / 50), `no room after ${offered} records of 50 publishes (the floor)`);
  t.ok(link.held() >= floor);
  await sleep(1000);
  t.notOk(link.hasRoom(), 'still no room while the broker is hung');
  t.equal(rooms, 0, 'no room event yet');

  mosq.resume();
  await waitUntil(() => rooms > 0, 5000, 'room again');
  t.equal(rooms, 1, 'listeners called once');
  t.ok(link.hasRoom());
  const settled = await Promise.all(results);
  t.equal(settled.filter((e) => e === undefined).length, offered, 'every admitted record was acked (resumed within its deadline)');
  t.equal(await send(link, fifty(-1)), undefined, 'and new records are acked');
});

t.test('admission under load: what is admitted is acknowledged before its deadline', async (t) => {
  const dir = t.testdir();
  const mosq = await startMosquitto(dir);
  t.teardown(() => mosq.stop());
  const { link } = makeLink(t, mosq, { publishTimeoutMs: 1500 });
  await waitUntil(() => link.connected, 5000, 'link connected');
  let acked = 0;
  let failed = 0;
  let offered = 0;
  let maxHeld = 0;
  let waits = 0;
  // Held publishes against the limit in force at each send: the limit follows the measured ack
  // rate, so the one at the end (lower when a busy machine slowed the broker) says nothing of earlier sends.
  const near = (limit: number) => Math.max(limit, 4096) / 0.8 + 50;
  let worst = { held: 0, limit: 0, over: -Infinity };
  const end = Date.now() + 4000;
  while (Date.now() < end) {
    if (!link.hasRoom()) {
      waits++;
      await new Promise<void>((r) => link.onRoom(r));
      continue;
    }
    const i = offered++;
    link.send(
      new Batch(
        Array.from({ length: 50 }, (_, k) => pub(`load/${i % 100}/${k}`, '{"value":1}')),
        (err) => (err ? failed++ : acked++),
        Date.now() + 1500,
      ),
    );
    const held = link.held();
    const limitNow = link.admissionLimit().limit;
    maxHeld = Math.max(maxHeld, held);
    if (held - near(limitNow) > worst.over) worst = { held, limit: limitNow, over: held - near(limitNow) };
    if (offered % 20 === 0) await new Promise((r) => setImmediate(r));
  }
  await waitUntil(() => acked + failed === offered, 5000, 'every record settled');
  const { limit, ratePerSecond } = link.admissionLimit();
  t.comment(
    `offered ${offered} records (${offered * 50} publishes), acked ${acked}, failed ${failed}, waited for room ${waits}x, max held ${maxHeld}, limit ${limit}, rate ${Math.round(ratePerSecond)}/s`,
  );
  t.equal(failed, 0, 'no admitted record timed out');
  t.ok(waits > 0, 'the producer said no room at times');
  t.ok(worst.over <= 0, `held publishes stayed near the limit in force (closest: ${worst.held} held at a limit of ${worst.limit})`);
  t.ok(ratePerSecond > 0, 'the ack rate was measured');
});

t.test('outage: one warn when the broker goes, one info when it is back, attempts at debug', async (t) => {
  const dir = t.testdir();
  const mosq = await startMosquitto(dir);
  t.teardown(() => mosq.stop());
  const { link, lines } = makeLink(t, mosq, { retryMaxMs: 10_000 });
  await waitUntil(() => link.connected, 5000, 'link connected');
  t.equal(await send(link, [pub('o/1')]), undefined);
  const mark = lines.length;

  await mosq.stop();
  const down = await waitUntil(() => lines.find((l) => l.event === 'mqtt_disconnected'), 5000, 'disconnect line');
  const failures = await Promise.all(Array.from({ length: 7 }, (_, i) => send(link, [pub(`o/out/${i}`)])));
  t.ok(
    failures.every((e) => (e as { code?: string })?.code === 'broker_unavailable'),
    'records fail at once while disconnected',
  );
  await sleep(2500);
  await mosq.start();
  const back = await waitUntil(() => lines.find((l) => l.event === 'mqtt_reconnected'), 10_000, 'reconnect line');
  t.equal(await send(link, [pub('o/2')]), undefined, 'acked again');

  const during = lines.slice(mark);
  t.same(
    during.filter((l) => l.level >= WARN).map((l) => l.event),
    ['mqtt_disconnected'],
    'one warn line for the whole outage',
  );
  t.same(
    during.filter((l) => l.level === INFO).map((l) => l.event),
    ['mqtt_reconnected'],
    'one info line: the return',
  );
  t.equal(down.level, WARN);
  t.type(down.reason, 'string');
  t.ok((down.reason as string).length > 0, `the reason: ${String(down.reason)}`);
  t.equal(back.level, INFO);
  t.equal(back.records_failed, 7, 'records failed during the outage');
  t.ok((back.outage_s as number) >= 2.5 && (back.outage_s as number) < 10, `outage_s ${String(back.outage_s)}`);
  const attempts = during.filter((l) => l.event === 'mqtt_connecting');
  t.ok(attempts.length >= 2, `${attempts.length} attempts logged at debug`);
  t.ok(
    attempts.every((l) => l.level === 20),
    'all at debug',
  );
  t.ok(attempts[0].time - down.time <= 1000, `first retry ${attempts[0].time - down.time} ms after the loss`);
});

t.test('outage: a hung broker is found by the keep-alive; the reason says so', async (t) => {
  const dir = t.testdir();
  const mosq = await startMosquitto(dir);
  t.teardown(() => mosq.stop());
  const { link, lines } = makeLink(t, mosq, { connect: { clientId: `hung-${process.pid}`, keepAliveSeconds: 1, cleanSession: true } });
  await waitUntil(() => link.connected, 5000, 'link connected');
  mosq.pause();
  const down = await waitUntil(() => lines.find((l) => l.event === 'mqtt_disconnected'), 5000, 'disconnect line');
  t.match(down.reason, /ping timeout/);
  mosq.resume();
  const back = await waitUntil(() => lines.find((l) => l.event === 'mqtt_reconnected'), 10_000, 'reconnect line');
  t.equal(back.level, INFO);
  t.equal(lines.filter((l) => l.level >= WARN).length, 1, 'one warn line');
});
