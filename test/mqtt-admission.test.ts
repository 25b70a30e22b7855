import t from 'tap';
import { Admission } from '../src/producers/mqtt/admission.js';

// The admission arithmetic on its own: limit from the measured ack rate, floor and ceiling,
// hysteresis, and one call per listener per return to room.

const tickEvery = (a: Admission, from: number, ms: number, steps: number, held: number, acksPerTick: number) => {
  let now = from;
  for (let i = 0; i < steps; i++) {
    for (let k = 0; k < acksPerTick; k++) a.acked();
    now += ms;
    a.tick(now, held);
  }
  return now;
};

t.test('limit follows the measured rate: rate × deadline × 0.5, within floor and ceiling', async (t) => {
  const a = new Admission({ timeoutMs: 2000, floor: 1000, ceiling: 65_535 });
  t.equal(a.limit, 1000, 'the floor before any measurement');
  // 10,000 acks/s while busy (held 5,000) for 5 s.
  let now = tickEvery(a, 1_000_000, 100, 50, 5000, 1000);
  t.ok(Math.abs(a.rate - 10_000) < 200, `rate ${Math.round(a.rate)}/s`);
  t.ok(Math.abs(a.limit - 10_000) < 200, `limit ${a.limit} = 10,000/s × 2 s × 0.5`);
  // Idle (nothing held): acks measure demand, not the broker; the rate is kept.
  now = tickEvery(a, now, 100, 50, 0, 1);
  t.ok(a.limit > 8500, `idle ticks leave the limit (about) alone: ${a.limit}`);
  // A hung broker: busy, no acks. The limit falls to the floor.
  now = tickEvery(a, now, 100, 100, 5000, 0);
  t.equal(a.limit, 1000, 'a broker that acks nothing: the floor');
  // A fast broker: capped at the packet-id window.
  tickEvery(a, now, 100, 100, 60_000, 20_000);
  t.equal(a.limit, 65_535, 'ceiling');
});

t.test('hysteresis: no room at the limit, room again at 80%, each listener once per return', async (t) => {
  const a = new Admission({ timeoutMs: 2000, floor: 1000 });
  let calls = 0;
  a.onRoom(() => calls++);
  a.update(999);
  t.ok(a.hasRoom());
  a.update(1000);
  t.notOk(a.hasRoom(), 'no room at the limit');
  a.update(900);
  t.notOk(a.hasRoom(), 'still none at 90%');
  a.update(800);
  t.ok(a.hasRoom(), 'room at 80%');
  a.update(700);
  await Promise.resolve();
  t.equal(calls, 1, 'listeners called once, after the current call stack');
  a.update(1000);
  a.update(0);
  await Promise.resolve();
  t.equal(calls, 2, 'and once more for the next return');
});
