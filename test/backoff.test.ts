import t from 'tap';
import { Backoff, backoffDelay } from '../src/backoff.js';

const low = () => 0;
const mid = () => 0.5;
const high = () => 0.999_999;

t.test('doubles from the base per attempt and stops at the cap', async (t) => {
  t.same(
    [0, 1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, 1000, 30_000, mid)),
    [1000, 2000, 4000, 8000, 16_000, 30_000, 30_000],
  );
  t.equal(backoffDelay(1e6, 1000, 30_000, mid), 30_000, 'a huge attempt count stays at the cap');
});

t.test('jitter spreads ±20% by default, never past the cap nor under 1 ms', async (t) => {
  t.equal(backoffDelay(0, 1000, 30_000, low), 800);
  t.equal(backoffDelay(0, 1000, 30_000, high), 1200);
  t.equal(backoffDelay(10, 1000, 30_000, low), 24_000, 'at the cap the low side still spreads');
  t.equal(backoffDelay(10, 1000, 30_000, high), 30_000, 'the high side is cut at the cap');
  t.equal(backoffDelay(0, 750, 200, high), 200, 'a cap under the base caps the first delay too');
  t.equal(backoffDelay(0, 0.1, 10, low), 1, 'never under 1 ms');
});

t.test('the jitter fraction is a parameter; 0 gives exact doubling', async (t) => {
  t.same(
    [0, 1, 2, 6, 7].map((n) => backoffDelay(n, 500, 30_000, high, 0)),
    [500, 1000, 2000, 30_000, 30_000],
  );
  t.equal(backoffDelay(0, 1000, 30_000, low, 0.5), 500);
  t.equal(backoffDelay(0, 1000, 30_000, high, 0.5), 1500);
});

t.test('Backoff counts attempts and starts over on reset', async (t) => {
  const b = new Backoff(100, 1000, mid);
  t.same([b.next(), b.next(), b.next(), b.next(), b.next()], [100, 200, 400, 800, 1000]);
  t.equal(b.attempt, 5);
  b.reset();
  t.equal(b.attempt, 0);
  t.equal(b.next(), 100, 'after a reset the next delay is the base again');
});

t.test('with Math.random: first retry near the base, then within the cap', async (t) => {
  for (let run = 0; run < 50; run++) {
    const b = new Backoff(750, 10_000);
    const d = Array.from({ length: 12 }, () => b.next());
    t.ok(d[0] >= 600 && d[0] <= 900, 'first retry within ±20% of 750 ms') || t.comment(d);
    t.ok(
      d.every((x) => x >= 1 && x <= 10_000),
      'capped',
    ) || t.comment(d);
    t.ok(d[11] >= 8000, 'reaches the cap') || t.comment(d);
  }
});
