import t from 'tap';
import { Dispatcher } from '../src/server/dispatch.js';
import type { Producer } from '../src/producers/types.js';
import type { VehicleRecord } from '../src/record/types.js';

// Routing a record to several producers: settled only when all are, each refusal named, and a
// guard deadline only where some producer keeps none of its own.
const record: VehicleRecord = { type: 'V', vin: 'VIN1', txid: 't', payload: new Uint8Array(), data: [] };

function producer(name: string, produce: () => Promise<void>, selfTimed = true): Producer {
  return { name, selfTimed, produce, close: async () => {} };
}

t.test('self-timed producers side by side: acked when both resolve, the refusing one named', async (t) => {
  const refused: string[] = [];
  const ok = producer('mqtt', () => Promise.resolve());
  const bad = producer('plugin', () => Promise.reject(Object.assign(new Error('no'), { code: 'nope' })));
  const d = new Dispatcher(
    { V: ['mqtt', 'plugin'] },
    new Map([
      ['mqtt', ok],
      ['plugin', bad],
    ]),
    50,
    (p) => refused.push(p),
  );
  await t.rejects(d.dispatch(record, d.producersFor('V')!), { code: 'nope' });
  t.same(refused, ['plugin']);
  const both = new Dispatcher(
    { V: ['mqtt', 'other'] },
    new Map([
      ['mqtt', ok],
      ['other', producer('other', () => Promise.resolve())],
    ]),
    50,
  );
  await t.resolves(both.dispatch(record, both.producersFor('V')!));
});

t.test('beside a producer that keeps no deadline, the guard still ends a record that never settles', async (t) => {
  const refused: string[] = [];
  const ok = producer('mqtt', () => Promise.resolve());
  const hung = producer('plugin', () => new Promise<void>(() => {}), false);
  const d = new Dispatcher(
    { V: ['mqtt', 'plugin'] },
    new Map([
      ['mqtt', ok],
      ['plugin', hung],
    ]),
    50,
    (p) => refused.push(p),
  );
  await t.rejects(d.dispatch(record, d.producersFor('V')!), { code: 'dispatch_timeout' });
  t.same(refused, ['plugin'], 'only the one still pending is named');
});
