import t from 'tap';
import { Backoff } from '../src/backoff.js';
import { retryStart } from '../src/producers/dispatch/retry-start.js';
import { waitUntil } from './helpers/ports.js';

t.test('tries again after each failure with the next wait, then is up once', async (t) => {
  let tries = 0;
  const waits: number[] = [];
  let ups = 0;
  retryStart(
    () => (++tries < 3 ? Promise.reject(new Error(`refused ${tries}`)) : Promise.resolve()),
    new Backoff(10, 100),
    () => ups++,
    (err, wait) => waits.push(wait) && t.match((err as Error).message, /^refused \d$/),
  );
  await waitUntil(() => ups === 1, 5000, 'up');
  t.equal(tries, 3, 'two failures, then the attempt that worked');
  t.equal(waits.length, 2, 'each failure reported with its wait');
  t.ok(waits[1] > waits[0], `the wait grows: ${waits.join(', ')} ms`);
  await new Promise((r) => setTimeout(r, 50));
  t.equal(tries, 3, 'no attempt after success');
});

t.test('cancel: no attempt and no up afterwards, even for the attempt in flight', async (t) => {
  let tries = 0;
  let ups = 0;
  let settle!: () => void;
  const retry = retryStart(
    () => {
      tries++;
      return new Promise<void>((r) => (settle = r));
    },
    new Backoff(1, 5),
    () => ups++,
    () => t.fail('no failure'),
  );
  retry.cancel();
  settle();
  await new Promise((r) => setTimeout(r, 30));
  t.equal(tries, 1, 'the one attempt started before cancel');
  t.equal(ups, 0, 'its success comes after cancel and is ignored');

  let later = 0;
  const failing = retryStart(
    () => (later++, Promise.reject(new Error('down'))),
    new Backoff(20, 20),
    () => t.fail('never up'),
    () => failing.cancel(),
  );
  await new Promise((r) => setTimeout(r, 100));
  t.equal(later, 1, 'cancelled during its wait: the next attempt never runs');
});
