import t from 'tap';
import { createHistogram } from 'node:perf_hooks';
import { Latencies, latencyHistogram, percentiles } from '../bench/lib/stats.js';

t.test('latencies in ms go in as µs and come back in ms', async (t) => {
  const l = new Latencies();
  for (let i = 1; i <= 1000; i++) l.push(i / 10);
  l.push(0.0001);
  const p = percentiles(l.take());
  t.equal(p.count, 1001);
  t.ok(Math.abs(p.p50 - 50) <= 0.1, `p50 ${p.p50}`);
  t.ok(Math.abs(p.p99 - 99) <= 0.2, `p99 ${p.p99}`);
  t.ok(Math.abs(p.max - 100) <= 0.1, `max ${p.max}`);
  t.equal(percentiles(l.take()).count, 0, 'take starts over');
});

t.test('none: NaN, not zero', async (t) => {
  t.same(percentiles(latencyHistogram([])), { count: 0, p50: NaN, p99: NaN, max: NaN });
});

t.test('histograms of several drivers add up', async (t) => {
  const all = createHistogram();
  all.add(latencyHistogram([1, 2, 3]));
  all.add(latencyHistogram([400]));
  const p = percentiles(all);
  t.equal(p.count, 4);
  t.ok(Math.abs(p.max - 400) <= 0.4, `max ${p.max}`);
});
