import t from 'tap';
import { AckTime } from '../src/producers/mqtt/ack-time.js';
import { Admission, VEHICLE_BUDGET_FLOOR, vehicleBudget } from '../src/producers/mqtt/admission.js';
import { Batch, DeadlineList } from '../src/producers/mqtt/batch.js';

// The admission arithmetic on its own: a congestion window (additive increase, multiplicative
// decrease) within floor and ceiling, hysteresis, one call per listener per return to room; the
// deadline that follows the broker's acknowledgement time.

t.test('the window: grows by its step while full, halves to half of what is held on a slow record, within floor and ceiling', async (t) => {
  const a = new Admission({ queueMs: 1000, initial: 4096, floor: 128, ceiling: 8192, step: 64 });
  t.equal(a.limit, 4096, 'a fresh link starts at the initial window');
  // Full (held at the limit) and quick acknowledgements (5 ms): one step per tick.
  let now = 1_000_000;
  for (let i = 0; i < 10; i++) {
    a.update(a.limit);
    a.sampled(5, now - 5, 2, a.limit, now);
    a.tick((now += 100), 0, 5);
  }
  t.equal(a.limit, 4096 + 640, '+64 per tick while full');
  // Growth waits a smoothed acknowledgement time between steps.
  for (let i = 0; i < 10; i++) {
    a.update(a.limit);
    a.tick((now += 100), 0, 500);
  }
  t.equal(a.limit, 4736 + 128, 'once per 500 ms when that is the acknowledgement time');
  // Not full: no growth (the window only grows when it is what holds the link back).
  const before = a.limit;
  for (let i = 0; i < 5; i++) {
    a.update(10);
    a.tick((now += 100), 10, 5);
  }
  t.equal(a.limit, before, 'unchanged while the link holds little');
  // A record took the base time plus more than queueMs: the window becomes half of what is held.
  a.sampled(1500, now - 1500, 2, 3000, now);
  t.equal(a.limit, 1500, 'half of the 3,000 publishes held');
  a.sampled(1600, now - 1600, 2, 1400, now + 10);
  t.equal(a.limit, 1500, 'not again for a record taken before that decrease');
  a.update(a.limit);
  a.tick((now += 100), a.limit, 5);
  t.equal(a.limit, 1500, 'no growth in a tick that saw congestion');
  a.sampled(1600, now - 50, 2, 1400, now);
  t.equal(a.limit, 700, 'halved again by a record taken after it');
  // A broker whose own latency is high is no congestion: slow against zero, quick against its base.
  const far = a.limit;
  a.sampled(2100, (now += 5000) - 2100, 2000, 800, now);
  t.equal(a.limit, far, '2.1 s against a base of 2 s: not congested');
  // Timeouts: down to the floor, never below.
  for (let i = 0; i < 20; i++) a.congested(now + 1, a.limit, (now += 1000));
  t.equal(a.limit, 128, 'the floor');
  for (let i = 0; i < 200; i++) {
    a.update(a.limit);
    a.tick((now += 100), 0, 5);
  }
  t.equal(a.limit, 8192, 'the ceiling');
});

t.test('ack time: the deadline follows srtt + 4 rttvar within its bounds, backs off on a timeout', async (t) => {
  const at = new AckTime({ minMs: 2500, maxMs: 15_000 });
  t.equal(at.deadlineMs, 2500, 'the least deadline before any sample');
  let now = 0;
  for (let i = 0; i < 50; i++) at.sample(3, (now += 10));
  t.equal(at.deadlineMs, 2500, 'a quick broker: the least deadline');
  t.equal(at.base(), 3, 'its base time');
  for (let i = 0; i < 50; i++) at.sample(2000 + (i % 2) * 400, (now += 10));
  t.ok(
    at.deadlineMs > 2400 + 400 && at.deadlineMs < 4500,
    `a broker at 2–2.4 s: deadline ${at.deadlineMs} ms (srtt ${Math.round(at.srtt)}, rttvar ${Math.round(at.rttvar)})`,
  );
  for (let i = 0; i < 50; i++) at.sample(60_000, (now += 10));
  t.equal(at.deadlineMs, 15_000, 'never above the most');
  const b = new AckTime({ minMs: 1000, maxMs: 8000 });
  b.timedOut(0);
  t.equal(b.deadlineMs, 2000, 'a timeout doubles the deadline');
  b.timedOut(10);
  t.equal(b.deadlineMs, 2000, 'once per deadline however many records timed out together');
  b.timedOut(2500);
  b.timedOut(7000);
  t.equal(b.deadlineMs, 8000, 'up to the most');
  // The base time is a minimum over the last two 10 s epochs: a broker that moved is seen anew.
  for (let i = 0; i < 30; i++) at.sample(400, (now += 1000));
  t.equal(at.base(), 400, 'an old minimum ages out');
});

t.test('deadline list: earliest first when deadlines come out of order', async (t) => {
  const l = new DeadlineList();
  const mk = (d: number) => new Batch([], () => {}, d);
  const bs = [100, 300, 200, 50, 300, 250].map(mk);
  for (const b of bs) l.push(b);
  const order: number[] = [];
  for (let b = l.head; b; b = b.dNext) order.push(b.deadline);
  t.same(order, [50, 100, 200, 250, 300, 300]);
  l.remove(bs[3]);
  l.remove(bs[4]);
  const after: number[] = [];
  for (let b = l.head; b; b = b.dNext) after.push(b.deadline);
  t.same(after, [100, 200, 250, 300]);
  t.equal(l.size, 4);
});

t.test('hysteresis: no room at the limit, room again at 80%, each listener once per return', async (t) => {
  const a = new Admission({ queueMs: 1000, initial: 1000, floor: 100 });
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

t.test('vehicle budget: the publishes a broker acknowledges in the target time, never below the floor', async (t) => {
  t.equal(vehicleBudget(0, 250), VEHICLE_BUDGET_FLOOR, 'no rate measured yet: the floor');
  t.equal(vehicleBudget(300, 250), VEHICLE_BUDGET_FLOOR, 'a slow broker: the floor');
  t.equal(vehicleBudget(10_000, 250), 2500, '10,000 acks/s × 250 ms');
  t.equal(vehicleBudget(40_000, 250), 10_000, 'four times the rate, four times the budget');
  t.equal(vehicleBudget(10_000, 250, 64), 2500);
  t.equal(vehicleBudget(100, 250, 64), 64);
});
