import t from 'tap';
import type { Publish } from '../src/publish/plan.js';
import { Republisher } from '../src/producers/mqtt/republish.js';

// A republish goes a chunk at a time, each once the broker took the last; newer ones win.
const pub = (i: number): Publish => ({ topic: `c/${i}`, payload: '{}', qos: 1, retain: true });
const range = (n: number) => Array.from({ length: n }, (_, i) => pub(i));

function harness(chunk: number) {
  const sent: { pubs: Publish[]; done: (err?: Error) => void }[] = [];
  const r = new Republisher((pubs, done) => sent.push({ pubs, done }), chunk);
  return { r, sent, topics: () => sent.flatMap((s) => s.pubs.map((p) => p.topic)) };
}

t.test('chunk by chunk: the next only once the last was taken, until every config went', (t) => {
  const { r, sent, topics } = harness(3);
  r.start(() => range(7));
  t.equal(sent.length, 1, 'one chunk in flight');
  t.same(
    sent[0].pubs.map((p) => p.topic),
    ['c/0', 'c/1', 'c/2'],
  );
  sent[0].done();
  sent[1].done();
  t.same(
    sent[2].pubs.map((p) => p.topic),
    ['c/6'],
    'the rest',
  );
  sent[2].done();
  t.equal(sent.length, 3, 'nothing after the last');
  t.same(
    topics(),
    range(7).map((p) => p.topic),
  );
  t.end();
});

t.test('configs are read as chunks go: what appears meanwhile is included', (t) => {
  const { r, sent, topics } = harness(2);
  const list = range(3);
  r.start(() => list);
  list.push(pub(3), pub(4));
  for (let i = 0; i < sent.length; i++) sent[i].done();
  t.same(topics(), ['c/0', 'c/1', 'c/2', 'c/3', 'c/4']);
  t.end();
});

t.test('a failed chunk ends the republish; a newer one supersedes the one under way', (t) => {
  const a = harness(2);
  a.r.start(() => range(6));
  a.sent[0].done(new Error('connection lost'));
  t.equal(a.sent.length, 1, 'nothing after a failure (the reconnect republishes)');

  const b = harness(2);
  b.r.start(() => range(6));
  b.r.start(() => [pub(100)]);
  t.same(b.topics(), ['c/0', 'c/1', 'c/100'], 'the newer one starts at once');
  b.sent[0].done();
  t.equal(b.sent.length, 2, 'the older one does not go on');
  b.r.stop();
  b.sent[1].done();
  t.equal(b.sent.length, 2, 'stop ends it too');
  t.end();
});

t.test('a delayed start waits, and stop before it cancels it', async (t) => {
  const { r, sent } = harness(10);
  r.start(() => range(1), 30);
  t.equal(sent.length, 0, 'not yet');
  await new Promise((resolve) => setTimeout(resolve, 80));
  t.equal(sent.length, 1, 'after the delay');
  const c = harness(10);
  c.r.start(() => range(1), 30);
  c.r.stop();
  await new Promise((resolve) => setTimeout(resolve, 80));
  t.equal(c.sent.length, 0, 'cancelled');
});
