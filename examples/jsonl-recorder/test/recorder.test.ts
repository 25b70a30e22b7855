import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { VehicleRecord } from 'fleet-telemetry/plugin';
import { CONTRACT_VIN, contractV, producerContext, runProducerContract } from 'fleet-telemetry/testing';
import createProducer from '../src/index.js';

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'jsonl-recorder-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The lines written for a vehicle so far; none before its file exists. */
async function lines(dir: string, vin: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(join(dir, `${vin}.jsonl`), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

test('passes the producer contract, every record seen in its file', async (t) => {
  const dir = await tempDir(t);
  const report = await runProducerContract(createProducer, {
    name: 'recorder',
    options: { dir },
    seen: async (r: VehicleRecord) => (await lines(dir, r.vin)).some((l) => l.txid === r.txid && l.type === r.type),
    onCheck: (name) => t.diagnostic(`passed: ${name}`),
  });
  assert.ok(report.passed.includes('close() resolves'));
  const written = await lines(dir, CONTRACT_VIN);
  // 1 V, its resend, 3 other types, 50 at once: every one a line, none torn by another.
  assert.equal(written.length, 55);
  assert.deepEqual(written[0], { type: 'V', txid: 'contract-1', created_at: '2023-11-14T22:13:20.000Z', data: { VehicleSpeed: 42.5 } });
  assert.deepEqual(
    written.slice(2, 5).map((l) => l.type),
    ['alerts', 'errors', 'connectivity'],
  );
});

test('options are checked when the server starts', async () => {
  for (const [options, message] of [
    [{}, /options.dir must name a folder/],
    [{ dir: '/tmp', sync: 'yes' }, /options.sync must be true or false/],
    [{ dir: '/tmp', folder: '/tmp' }, /unknown option "folder"/],
  ] as const) {
    await assert.rejects(runProducerContract(createProducer, { options }), message);
  }
});

test('a VIN that cannot name a file is refused for good; a write that fails is refused for a resend', async (t) => {
  const dir = await tempDir(t);
  const p = createProducer(producerContext({ options: { dir } }));
  await assert.rejects(p.produce(contractV('x', 1, '../escape')), { code: 'record_invalid', permanent: true });
  const gone = createProducer(producerContext({ options: { dir: join(dir, 'missing') } }));
  await assert.rejects(gone.produce(contractV('y', 1)), (err: NodeJS.ErrnoException) => err.code === 'ENOENT' && !('permanent' in err));
  await p.close();
  await gone.close();
});
