import t from 'tap';
import type { Test } from 'tap';
import { createServer, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { FleetStore } from '../src/ops/fleet/store.js';
import { LocalFleet } from '../src/ops/fleet/local.js';
import { FleetEventStreams, type EventStreamOptions } from '../src/ops/fleet/sse.js';
import type { VRecord } from '../src/record/types.js';
import { sleep, waitUntil } from './helpers/ports.js';
import { addVehicle, makeVehicle } from './helpers/fleet-filled.js';
import { openSse } from './helpers/sse.js';

// The event streams' own rules on a real HTTP server, with short intervals: keepalive comments,
// the timer stopping with the last client, and a client that stops reading costing a bounded
// buffer (then a full event) instead of a queue that grows.

const VIN = '5YJ3E7EB2NF000001';
const totals = { frames_acked_total: 0, frames_unanswered_total: 0, frames_error_total: 0, fields_total: 0, records_in_flight: 0, broker_connected: true };

async function serve(t: Test, opts: EventStreamOptions, store = new FleetStore({ max_vehicles: 10, max_fields_per_vehicle: 10 })) {
  const local = new LocalFleet(store, { fleetTotals: () => totals, readiness: () => ({ ready: true }) });
  // Counts the times every row was asked for (cursor 0).
  let fullBuilds = 0;
  const source = { changes: (since: number) => ((fullBuilds += since === 0 ? 1 : 0), local.changes(since)), vehicle: (vin: string) => local.vehicle(vin) };
  const streams = new FleetEventStreams(source, pino({ level: 'silent' }), opts);
  const responses: ServerResponse[] = [];
  const server = createServer((req, res) => {
    responses.push(res);
    void streams.open(req, res, undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    streams.close();
    server.closeAllConnections();
    server.close();
  });
  return { store, streams, responses, port: (server.address() as AddressInfo).port, fullBuilds: () => fullBuilds };
}

const named = (name: string): VRecord => ({
  type: 'V',
  vin: VIN,
  txid: '',
  payload: new Uint8Array(),
  data: [{ key: 64, name: 'VehicleName', json: JSON.stringify(name) }],
});

t.test('keepalive comments between events; the timer stops with the last client', async (t) => {
  const { streams, port, store } = await serve(t, { tickMs: 30, keepaliveMs: 100 });
  store.recordAcked(named('A'));
  const s = await openSse(port, '/');
  await s.next((e) => e.event === 'fleet' && (JSON.parse(e.data) as { full: boolean }).full);
  await s.next((e) => e.event === ':' && e.data === 'keepalive');
  t.pass('a keepalive comment');
  store.recordAcked(named('B'));
  const d = await s.next((e) => e.event === 'fleet' && !!(JSON.parse(e.data) as { changed?: { name?: string }[] }).changed?.some((v) => v.name === 'B'));
  t.ok(d, 'a delta with the change');
  t.equal(streams.size, 1);
  s.close();
  await waitUntil(() => streams.size === 0, 5000, 'client gone');
  t.pass('a closed client is dropped');
});

t.test('a client that stops reading: the server buffers a bounded amount, then sends a full event', async (t) => {
  const maxBufferedBytes = 64 * 1024;
  const { port, store, responses } = await serve(t, { tickMs: 20, maxBufferedBytes });
  const big = 'x'.repeat(200_000);
  let n = 0;
  store.recordAcked(named(big + n));
  // A change every tick, each delta about 200 kB: 10 MB/s if the server queued them.
  const changer = setInterval(() => store.recordAcked(named(big + ++n)), 10);
  t.teardown(() => clearInterval(changer));

  let received = 0;
  let fullsAfterResume = 0;
  let resumed = false;
  let buf = '';
  const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/' }, resolve);
    req.on('error', reject);
    req.end();
    t.teardown(() => req.destroy());
  });
  res.setEncoding('utf8').on('data', (chunk: string) => {
    received += chunk.length;
    buf += chunk;
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const ev = buf.slice(0, i);
      buf = buf.slice(i + 2);
      if (resumed && ev.includes('"full":true')) fullsAfterResume++;
    }
  });
  await waitUntil(() => received > 200_000, 5000, 'first event');
  res.pause();
  let maxBuffered = 0;
  for (let i = 0; i < 150; i++) {
    await sleep(10);
    maxBuffered = Math.max(maxBuffered, ...responses.map((r) => r.writableLength));
  }
  t.ok(n > 50, `the fleet changed ${n} times while the client did not read`);
  t.ok(maxBuffered <= maxBufferedBytes + 300_000, `server-side unread bytes stayed bounded (max ${maxBuffered})`);
  resumed = true;
  res.resume();
  await waitUntil(() => fullsAfterResume > 0, 10_000, 'a full event after reading again');
  t.pass('a full event once it reads again');
});

interface FullEvent {
  full: true;
  columns: string[];
  rows: unknown[][];
}
interface DeltaEvent {
  full: false;
  changed: Record<string, unknown>[];
  removed: string[];
}
const fleetEvent = (data: string) => JSON.parse(data) as FullEvent | DeltaEvent;
const vinsOf = (e: FullEvent) => e.rows.map((r) => r[0] as string).sort();

t.test('a vehicle the store forgets leaves open pages as `removed`', async (t) => {
  const store = new FleetStore({ max_vehicles: 3, max_fields_per_vehicle: 20 });
  const specs = [0, 1, 2, 3].map((i) => ({ ...makeVehicle(i, () => 0.9), connected: false }));
  const now = Date.now();
  specs.slice(0, 3).forEach((s, i) => addVehicle(store, s, now - 60_000 + i));
  const { port } = await serve(t, { tickMs: 30 }, store);
  const s = await openSse(port, '/');
  t.teardown(() => s.close());
  const full = await s.next((e) => e.event === 'fleet');
  t.same(
    vinsOf(fleetEvent(full.data) as FullEvent),
    specs.slice(0, 3).map((x) => x.vin),
  );
  addVehicle(store, specs[3], now); // the store is full: the one heard from longest ago goes
  const gone = await s.next((e) => e.event === 'fleet' && ((fleetEvent(e.data) as DeltaEvent).removed?.length ?? 0) > 0, full.index + 1);
  const delta = fleetEvent(gone.data) as DeltaEvent;
  t.same(delta.removed, [specs[0].vin], 'the forgotten VIN');
  t.same(
    delta.changed.map((c) => c.vin),
    [specs[3].vin],
    'the new one',
  );
  const late = await openSse(port, '/');
  t.teardown(() => late.close());
  const lateFull = fleetEvent((await late.next((e) => e.event === 'fleet')).data) as FullEvent;
  t.same(
    vinsOf(lateFull),
    specs
      .slice(1)
      .map((x) => x.vin)
      .sort(),
    'a page opened later sees the same three',
  );
});

t.test('a page opened later, or reloaded, gets its full event from the rows kept, not from every row again', async (t) => {
  const store = new FleetStore({ max_vehicles: 100, max_fields_per_vehicle: 20 });
  const specs = Array.from({ length: 50 }, (_, i) => makeVehicle(i, () => 0.5));
  const sessions = specs.map((s) => addVehicle(store, s));
  const { port, fullBuilds, streams } = await serve(t, { tickMs: 30, keepRowsMs: 60_000 }, store);
  const first = async () => {
    const s = await openSse(port, '/');
    t.teardown(() => s.close());
    return { s, full: fleetEvent((await s.next((e) => e.event === 'fleet')).data) as FullEvent };
  };
  const a = await first();
  t.equal(a.full.rows.length, 50);
  t.equal(fullBuilds(), 1, 'the first page: every row built once');
  sessions[0].frames = 7; // a counted frame, as the session counts it
  const b = await first();
  const frames = b.full.columns.indexOf('frames');
  t.equal(b.full.rows.find((r) => r[0] === specs[0].vin)![frames], 7, 'the later page sees the change');
  a.s.close();
  b.s.close();
  await waitUntil(() => streams.size === 0, 5000, 'both gone');
  const c = await first();
  t.equal(c.full.rows.length, 50, 'a reload sees every row');
  t.equal(fullBuilds(), 1, 'no page after the first made the store build every row again');
});

t.test('the rows kept are let go a while after the last page closed', async (t) => {
  const store = new FleetStore({ max_vehicles: 10, max_fields_per_vehicle: 20 });
  addVehicle(
    store,
    makeVehicle(0, () => 0.5),
  );
  const { port, fullBuilds, streams } = await serve(t, { tickMs: 30, keepRowsMs: 50 }, store);
  const a = await openSse(port, '/');
  await a.next((e) => e.event === 'fleet');
  a.close();
  await waitUntil(() => streams.size === 0, 5000, 'gone');
  await sleep(200);
  const b = await openSse(port, '/');
  t.teardown(() => b.close());
  await b.next((e) => e.event === 'fleet');
  t.equal(fullBuilds(), 2, 'built again after they were let go');
});
