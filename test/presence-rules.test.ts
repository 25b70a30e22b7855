import t from 'tap';
import { connectivityConfig } from '../src/publish/discovery.js';
import { presenceJson, presencePublish, presenceVin, readPresence, type Presence } from '../src/publish/presence.js';
import { TopicNames } from '../src/publish/topics.js';
import { PresenceWatch } from '../src/producers/mqtt/presence-watch.js';
import { PresenceBook } from '../src/server/presence/book.js';
import { PresenceOutbox } from '../src/server/presence/outbox.js';
import { PresenceTracker } from '../src/server/presence/tracker.js';
import type { CloseOutcome } from '../src/server/presence/port.js';
import { oneRowPerVehicle } from '../src/ops/vehicle-rows.js';
import type { VehicleView } from '../src/ops/metrics.js';
import { waitUntil } from './helpers/ports.js';
import { renderTemplates } from './helpers/jinja.js';

// The pure rules of presence: the book's counts, the outbox's order, the tracker's closes and
// corrections, the watch's reading of retained messages, the topic, payload and Home Assistant
// template, /vehicles rows. Timers here are the tracker's own; tests wait for what they cause.

const VIN = '5YJ3E1EA7KF300002';
const names = new TopicNames('telemetry');

t.test('topic, payload, read back; QoS at least 1, always retained', async (t) => {
  const p: Presence = { online: true, connections: 2, since: '2026-01-01T00:00:00.000Z', server: 'fleet-telemetry/a/status' };
  const pub = presencePublish(names, VIN, p, 0);
  t.same(pub, { topic: `telemetry/${VIN}/presence`, payload: presenceJson(p), qos: 1, retain: true });
  t.equal(presencePublish(names, VIN, p, 2).qos, 2);
  t.same(readPresence(pub.payload), p);
  t.equal(readPresence('{"online":"yes"}'), undefined);
  t.equal(readPresence('not json'), undefined);
  t.equal(presenceVin(names, `telemetry/${VIN}/presence`), VIN);
  t.equal(presenceVin(names, `telemetry/${VIN}/connectivity`), undefined);
  t.equal(presenceVin(names, `other/${VIN}/presence`), undefined);
});

t.test("book: online while any connection is open; older connections named on a newer one's first frame", async (t) => {
  const b = new PresenceBook();
  t.match(b.opened('0/1/1', VIN, 1000)?.presence, { online: true, connections: 1, since: new Date(1000).toISOString() });
  t.match(b.opened('0/1/2', VIN, 2000)?.presence, { online: true, connections: 2, since: new Date(1000).toISOString() }, 'since: when it came online');
  t.equal(b.vehicles, 1, 'one vehicle');
  t.equal(b.connections, 2);
  t.same(b.active('0/1/1', 1500), [], 'the older one has nothing older');
  t.same(
    b.active('0/1/2', 2500).map((c) => c.key),
    ['0/1/1'],
    'the newer one names the older',
  );
  t.ok(b.hasNewerActive('0/1/1'));
  t.match(b.closed('0/1/1', 3000)?.presence, { online: true, connections: 1 }, 'still online');
  t.match(b.closed('0/1/2', 4000)?.presence, { online: false, connections: 0, since: new Date(4000).toISOString() }, 'offline after the last');
  t.equal(b.closed('0/1/2', 4000), undefined, 'a second close changes nothing');
  b.opened('2/9/1', VIN, 5000);
  b.opened('1/8/1', 'OTHER', 5000);
  t.same(b.keysOf('2/9'), ['2/9/1'], "a worker's keys");
});

t.test('outbox: one send per VIN at a time, the latest state wins, a failure is retried', async (t) => {
  const sent: Presence[] = [];
  let release: (() => void) | undefined;
  let fail = false;
  const o = new PresenceOutbox(
    (_vin, p) =>
      new Promise<void>((resolve, reject) => {
        sent.push(p);
        release = fail ? () => reject(new Error('broker down')) : resolve;
      }),
  );
  const p = (n: number): Presence => ({ online: n > 0, connections: n, since: String(n) });
  const first = o.set(VIN, p(1));
  const skipped = o.set(VIN, p(2));
  const latest = o.set(VIN, p(0));
  t.same(
    sent.map((x) => x.connections),
    [1],
    'one in flight',
  );
  release!();
  await first;
  await waitUntil(() => sent.length === 2, 1000, 'the next send');
  t.same(
    sent.map((x) => x.connections),
    [1, 0],
    'the latest state next; the one in between skipped',
  );
  release!();
  await Promise.all([skipped, latest]); // the skipped state is told once a later one is published
  await o.flush(1000);
  t.equal(o.pending, 0);

  fail = true;
  const told = o.set(VIN, p(1));
  release!();
  await told;
  t.equal(o.pending, 1, 'a failed state waits for its retry');
  fail = false;
  await waitUntil(() => sent.length === 4, 5000, 'the retry');
  release!();
  await o.flush(1000);
  t.same(sent.at(-1), p(1), 'retried with the latest state');
  o.stop();
});

function tracker(graceMs: number) {
  const published: { vin: string; p: Presence }[] = [];
  const asked: { key: string; since: number }[] = [];
  let answer: CloseOutcome = 'closed';
  const tr = new PresenceTracker(
    {
      publish: async (vin, p) => void published.push({ vin, p }),
      closeIfIdle: async (key, since) => {
        asked.push({ key, since });
        return answer;
      },
    },
    { graceMs },
  );
  return { tr, published, asked, setAnswer: (a: CloseOutcome) => (answer = a) };
}

t.test('tracker: the older connection is asked to close after the grace period, again while it stays active', async (t) => {
  const { tr, published, asked, setAnswer } = tracker(50);
  t.teardown(() => tr.stop());
  await tr.opened('0/1/1', VIN);
  await tr.opened('0/1/2', VIN);
  t.same(
    published.map((x) => x.p.connections),
    [1, 2],
  );
  setAnswer('active');
  tr.active('0/1/2');
  await waitUntil(() => asked.length >= 2, 5000, 'asked twice');
  t.ok(
    asked.every((a) => a.key === '0/1/1'),
    'only the older one',
  );
  setAnswer('closed');
  await waitUntil(() => asked.length >= 3, 5000, 'asked again');
  const before = asked.length;
  tr.closed('0/1/1');
  t.equal(asked.length, before, 'closed: no more asks');
  await waitUntil(() => published.length === 3, 1000, 'the close published');
  t.match(published[2].p, { online: true, connections: 1 });
});

t.test('tracker: grace 0 keeps both; a newer connection gone first leaves the older alone', async (t) => {
  const keep = tracker(0);
  t.teardown(() => keep.tr.stop());
  await keep.tr.opened('0/1/1', VIN);
  await keep.tr.opened('0/1/2', VIN);
  keep.tr.active('0/1/2');
  t.equal((keep.tr as unknown as { timers: Map<string, unknown> }).timers.size, 0, 'no timer armed with grace 0');

  const gone = tracker(30);
  t.teardown(() => gone.tr.stop());
  await gone.tr.opened('0/1/1', VIN);
  await gone.tr.opened('0/1/2', VIN);
  gone.tr.active('0/1/2');
  gone.tr.closed('0/1/2');
  // Its timer may still fire: it finds no newer connection and asks nothing. A third connection's
  // ask shows the timer ran through.
  await gone.tr.opened('0/1/3', VIN);
  gone.tr.active('0/1/3');
  await waitUntil(() => gone.asked.length > 0, 5000, 'an ask');
  t.same(
    gone.asked.map((a) => a.key),
    ['0/1/1'],
    'asked about the older only once a newer one is active',
  );
});

t.test("tracker: a suspect online is published offline unless the vehicle is connected; a dead worker's connections close", async (t) => {
  const { tr, published } = tracker(0);
  t.teardown(() => tr.stop());
  tr.suspect('GONE', 0);
  await waitUntil(() => published.length === 1, 5000, 'the correction');
  t.match(published[0], { vin: 'GONE', p: { online: false, connections: 0 } });
  await tr.opened('2/7/1', VIN);
  tr.suspect(VIN, 0);
  tr.suspect('LATE', 20);
  await waitUntil(() => published.length === 3, 5000, 'the later correction');
  t.same(
    published.slice(1).map((x) => [x.vin, x.p.online]),
    [
      [VIN, true],
      ['LATE', false],
    ],
    'a connected vehicle is not corrected',
  );
  tr.ownerGone('2/7');
  await waitUntil(() => published.length === 4, 5000, "the worker's vehicle offline");
  t.match(published[3], { vin: VIN, p: { online: false } });
});

t.test("watch: own retained onlines are suspects after the timeout, others' when their status is offline", async (t) => {
  const calls: [string, number][] = [];
  const w = new PresenceWatch({
    names,
    own: new Set(['fleet-telemetry/me/status']),
    staleAfterMs: 60_000,
    corrections: () => ({ suspect: (vin, ms) => void calls.push([vin, ms]) }),
  });
  const msg = (server: string, online = true) => Buffer.from(presenceJson({ online, connections: online ? 1 : 0, since: 'x', server }));
  t.ok(w.filters().some((f) => f.topic === 'telemetry/+/presence'));
  t.ok(
    w.filters().every((f) => f.qos === 0),
    'QoS 0: no broker-side session state to restore on reconnect',
  );
  w.onMessage('telemetry/A/presence', msg('fleet-telemetry/me/status'), true);
  w.onMessage('telemetry/B/presence', msg('fleet-telemetry/me/status'), false);
  t.same(calls, [['A', 60_000]], 'only a retained one of our own is a suspect');
  w.onMessage('telemetry/C/presence', msg('fleet-telemetry/other/status'), true);
  w.onMessage('telemetry/D/presence', msg('fleet-telemetry/other/status'), false);
  w.onMessage('telemetry/D/presence', msg('fleet-telemetry/other/status', false), false);
  w.onMessage('fleet-telemetry/other/status', Buffer.from('offline'), true);
  t.same(calls.slice(1), [['C', 0]], "the dead server's vehicle still online is corrected at once");
  w.onMessage('telemetry/E/presence', msg('fleet-telemetry/other/status'), true);
  t.same(calls.slice(2), [['E', 0]], 'one seen after its server went offline too');
  w.onMessage('fleet-telemetry/me/status', Buffer.from('offline'), true);
  t.equal(calls.length, 3, 'our own status is not a reason');
});

t.test('Home Assistant: the connectivity entity reads presence; real Jinja2 renders ON, OFF, None', async (t) => {
  const c = JSON.parse(
    connectivityConfig({ prefix: 'homeassistant', payloadFormat: 'raw', names, statusTopic: 'fleet-telemetry/x/status', qos: 1 }, VIN, {}).payload,
  ) as { state_topic: string; value_template: string };
  t.equal(c.state_topic, `telemetry/${VIN}/presence`);
  const out = renderTemplates(
    [{ online: true, connections: 2, since: 'x' }, { online: false, connections: 0, since: 'x' }, { Status: 'CONNECTED' }].map((p) => ({
      template: c.value_template,
      payload: JSON.stringify(p),
    })),
  );
  t.same(out, [{ ok: 'ON' }, { ok: 'OFF' }, { ok: 'None' }]);
});

t.test('/vehicles rows: one per vehicle, named by its newest connection', async (t) => {
  const row = (id: string, since: string, frames: number, last: string | null): VehicleView => ({
    vin: VIN,
    connection_id: id,
    connected_since: since,
    connected_seconds: 1,
    client_version: id,
    network_interface: '',
    frames,
    fields: frames,
    last_frame_at: last,
  });
  const rows = oneRowPerVehicle([
    row('old', '2026-01-01T00:00:00.000Z', 3, '2026-01-01T00:00:05.000Z'),
    row('new', '2026-01-01T00:01:00.000Z', 2, null),
    { ...row('x', '2026-01-01T00:00:30.000Z', 1, null), vin: 'OTHER' },
  ]);
  t.equal(rows.length, 2);
  t.match(rows[0], {
    vin: VIN,
    connection_id: 'new',
    connected_since: '2026-01-01T00:00:00.000Z',
    frames: 5,
    last_frame_at: '2026-01-01T00:00:05.000Z',
    connections: 2,
  });
  t.match(rows[1], { vin: 'OTHER', connections: 1 });
});
