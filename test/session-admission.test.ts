import t from 'tap';
import { pino } from 'pino';
import { readFrame } from '../src/envelope/index.js';
import type { Producer } from '../src/producers/types.js';
import type { VehicleRecord } from '../src/record/types.js';
import { Dispatcher } from '../src/server/dispatch.js';
import { noEvents } from '../src/server/events.js';
import { InflightGate } from '../src/server/gate.js';
import { MAX_QUEUED_BYTES, VehicleSession, type VehicleSocket } from '../src/server/session.js';
import { vFrame } from './helpers/vehicle.js';

// Admission without sockets: the per-vehicle bound, producers' room, FIFO wake-up, and the bound
// on queued bytes.

/** A producer whose records settle when the test says, with room while it holds fewer than `room`. */
function heldProducer(room = Infinity) {
  const pending: { txid: string; resolve: () => void }[] = [];
  const listeners: (() => void)[] = [];
  const order: string[] = [];
  const p: Producer & {
    pending: typeof pending;
    order: string[];
    settle(n?: number): Promise<void>;
    room: number;
    holdConnectivity: boolean;
    budget?: number;
  } = {
    name: 'held',
    selfTimed: true,
    room,
    holdConnectivity: false,
    pending,
    order,
    produce(record: VehicleRecord) {
      if (record.type === 'connectivity' && !p.holdConnectivity) return Promise.resolve();
      order.push(record.txid);
      return new Promise<void>((resolve) => pending.push({ txid: record.txid, resolve }));
    },
    hasRoom: () => pending.length < p.room,
    onRoom: (l) => void listeners.push(l),
    vehicleBudget: () => p.budget ?? Infinity,
    async settle(n = 1) {
      for (let i = 0; i < n && pending.length; i++) pending.shift()!.resolve();
      if (pending.length < p.room) for (const l of listeners) l();
      await new Promise((r) => setImmediate(r));
    },
    close: async () => {},
  };
  return p;
}

function fakeSocket() {
  const s = { paused: false, pauses: 0, sent: [] as { kind: number; txid: string }[] };
  const socket: VehicleSocket = {
    send: (d) => {
      const f = readFrame(Buffer.from(d));
      s.sent.push({ kind: f.messageType, txid: f.txid });
    },
    close: () => {},
    pause: () => {
      s.paused = true;
      s.pauses++;
    },
    resume: () => void (s.paused = false),
  };
  return { s, socket };
}

async function setup(opts: { perVehicle?: number; room?: number; max?: number; holdConnectivity?: boolean; budget?: number }) {
  const producer = heldProducer(opts.room);
  producer.budget = opts.budget;
  producer.holdConnectivity = opts.holdConnectivity ?? false;
  const dispatcher = new Dispatcher({ V: ['held'] }, new Map([['held', producer]]), 60_000);
  const gate = new InflightGate({ max: opts.max ?? 20_000, perVehicle: opts.perVehicle, producers: dispatcher.allProducers() });
  const logger = pino({ level: 'silent' });
  const session = async (vin: string) => {
    const { s, socket } = fakeSocket();
    const sess = new VehicleSession({ vin, connectionId: vin, clientVersion: '', networkInterface: '' }, socket, {
      dispatcher,
      logger,
      events: noEvents,
      gate,
    });
    const started = sess.start();
    if (!opts.holdConnectivity) await started;
    const fields = (n: number) => Array.from({ length: n }, (_, i) => ({ key: i % 2 ? 'VehicleSpeed' : 'Odometer', value: { float_value: i } }));
    return {
      s,
      sess,
      send: (txid: string, n = 1) => sess.onMessage(Buffer.from(vFrame(txid, vin, fields(n)))),
    };
  };
  return { producer, gate, session };
}

t.test('per-vehicle bound: at most N records in flight, reading paused, nothing dropped', async (t) => {
  const { producer, session } = await setup({ perVehicle: 2 });
  const a = await session('A');
  for (let i = 0; i < 6; i++) a.send(`a${i}`);
  t.same(producer.order, ['a0', 'a1'], 'two records in flight');
  t.ok(a.s.paused, 'reading paused at the bound');
  await producer.settle();
  t.same(producer.order, ['a0', 'a1', 'a2'], 'one settled, one more starts');
  for (let i = 0; i < 5; i++) await producer.settle();
  t.same(producer.order, ['a0', 'a1', 'a2', 'a3', 'a4', 'a5']);
  t.same(
    a.s.sent.map((x) => x.txid),
    ['a0', 'a1', 'a2', 'a3', 'a4', 'a5'],
    'every frame acked, in order',
  );
  t.notOk(a.s.paused, 'reading resumed');
});

t.test('per-vehicle field budget: a vehicle holds no more fields in flight than the producer allows; a big record still goes alone', async (t) => {
  const { producer, session } = await setup({ budget: 100 });
  const a = await session('A');
  const b = await session('B');
  for (let i = 0; i < 4; i++) a.send(`a${i}`, 60);
  t.same(producer.order, ['a0', 'a1'], 'two 60-field records: 120 fields, the budget reached');
  t.ok(a.s.paused, 'A is not read from at its budget');
  b.send('b0', 1);
  t.same(producer.order, ['a0', 'a1', 'b0'], "B is not held by A's budget");
  await producer.settle();
  t.same(producer.order, ['a0', 'a1', 'b0', 'a2'], 'A settles one, the next starts');
  producer.budget = 10;
  a.send('a4', 500);
  for (let i = 0; i < 3; i++) await producer.settle();
  t.same(producer.order.slice(-1), ['a3'], 'a1, b0 and a2 settled: a3 alone, over the smaller budget');
  await producer.settle();
  t.same(producer.order.slice(-1), ['a4'], 'a record larger than the budget goes once nothing of A is in flight');
  await producer.settle();
  t.same(
    a.s.sent.map((x) => x.txid),
    ['a0', 'a1', 'a2', 'a3', 'a4'],
    'every frame of A acked, in order',
  );
  t.notOk(a.s.paused, 'reading resumed');
});

t.test('no room at a producer: sessions park and are woken in order; a pipelining one cannot starve another', async (t) => {
  const { producer, gate, session } = await setup({ room: 2 });
  const a = await session('A');
  const b = await session('B');
  for (let i = 0; i < 10; i++) a.send(`a${i}`);
  t.same(producer.order, ['a0', 'a1'], 'A fills the producer');
  b.send('b0');
  t.equal(gate.parked, 2, 'both wait');
  t.ok(a.s.paused && b.s.paused, 'neither is read from');
  await producer.settle();
  t.same(producer.order.slice(2), ['a2'], 'A was first in the queue');
  await producer.settle();
  t.same(producer.order.slice(3), ['b0'], "then B, ahead of A's next records");
  for (let i = 0; i < 12; i++) await producer.settle();
  t.same(
    producer.order.filter((x) => x.startsWith('a')),
    Array.from({ length: 10 }, (_, i) => `a${i}`),
    'A slowed, not refused',
  );
  t.equal(a.s.sent.length + b.s.sent.length, 11, 'every frame acked');
  t.equal(gate.parked, 0);
});

t.test('a session that keeps its place: new frames do not overtake the queue', async (t) => {
  const { producer, session } = await setup({ room: 1 });
  const a = await session('A');
  const b = await session('B');
  const c = await session('C');
  a.send('a0');
  b.send('b0');
  c.send('c0');
  a.send('a1');
  await producer.settle();
  t.same(producer.order, ['a0', 'b0'], 'B parked first');
  await producer.settle();
  await producer.settle();
  t.same(producer.order, ['a0', 'b0', 'c0', 'a1'], 'then C, then A again');
});

t.test('queued bytes are bounded: frames arriving before CONNECTED is published pause reading past the bound', async (t) => {
  const { producer, session } = await setup({ holdConnectivity: true });
  const a = await session('A');
  const big = Buffer.alloc(900_000, 1);
  let sent = 0;
  while (!a.s.paused && sent < 10) {
    a.sess.onMessage(big);
    sent++;
  }
  t.ok(a.s.paused, 'paused');
  t.equal(sent, Math.floor(MAX_QUEUED_BYTES / big.length) + 1, `after ${sent} frames (${sent * big.length} bytes) queued`);
  await producer.settle();
  t.equal(a.s.sent.filter((x) => x.kind === 4).length, sent, 'every queued frame answered (error: not a frame)');
  t.notOk(a.s.paused, 'resumed once the queue drained');
});

t.test('a producer with hasRoom but no onRoom: parked sessions are looked at again', async (t) => {
  const { producer, session } = await setup({ room: 0 });
  (producer as { onRoom?: unknown }).onRoom = undefined;
  const a = await session('A');
  a.send('a0');
  t.same(producer.order, [], 'no room: waiting');
  producer.room = 1;
  await new Promise((r) => setTimeout(r, 600));
  t.same(producer.order, ['a0'], 'admitted without an onRoom call');
  await producer.settle();
});
