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
import { openSse } from './helpers/sse.js';

// The event streams' own rules on a real HTTP server, with short intervals: keepalive comments,
// the timer stopping with the last client, and a client that stops reading costing a bounded
// buffer (then a full event) instead of a queue that grows.

const VIN = '5YJ3E7EB2NF000001';
const totals = { frames_acked_total: 0, frames_unanswered_total: 0, frames_error_total: 0, fields_total: 0, records_in_flight: 0, broker_connected: true };

async function serve(t: Test, opts: EventStreamOptions) {
  const store = new FleetStore({ max_vehicles: 10, max_fields_per_vehicle: 10 });
  const source = new LocalFleet(store, { fleetTotals: () => totals, readiness: () => ({ ready: true }) });
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
  return { store, streams, responses, port: (server.address() as AddressInfo).port };
}

const named = (name: string): VRecord => ({ type: 'V', vin: VIN, txid: '', payload: new Uint8Array(), data: [{ key: 64, name: 'VehicleName', json: JSON.stringify(name) }] });

t.test('keepalive comments between events; the timer stops with the last client', async (t) => {
  const { streams, port, store } = await serve(t, { tickMs: 30, keepaliveMs: 100 });
  store.recordAcked(named('A'));
  const s = await openSse(port, '/');
  await s.next((e) => e.event === 'fleet' && (JSON.parse(e.data) as { full: boolean }).full);
  await s.next((e) => e.event === ':' && e.data === 'keepalive');
  t.pass('a keepalive comment');
  store.recordAcked(named('B'));
  const d = await s.next((e) => e.event === 'fleet' && (JSON.parse(e.data) as { vehicles: { name: string }[] }).vehicles.some((v) => v.name === 'B'));
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
