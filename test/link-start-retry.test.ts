import t, { type Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { KafkaLink } from '../src/producers/kafka/link.js';
import { kafkaSettingsFrom } from '../src/producers/kafka/options.js';
import { KinesisLink } from '../src/producers/kinesis/link.js';
import { kinesisSettingsFrom } from '../src/producers/kinesis/options.js';
import { startKafkaMock } from './helpers/kafka-mock.js';
import { KINESALITE_ENV, startKinesalite } from './helpers/kinesalite.js';
import { waitUntil } from './helpers/ports.js';

// The Kafka and Kinesis links at start with nothing answering: each failed attempt logs the wait
// before the next, which doubles from its first value with ±20% spread; once the service is
// there, the link comes up by itself.

type Line = Record<string, unknown>;

function capture() {
  const lines: Line[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as Line) });
  return { lines, log };
}

/** The logged waits of the first `n` failed attempts. */
async function waits(lines: Line[], event: string, n: number): Promise<number[]> {
  await waitUntil(() => lines.filter((l) => l.event === event).length >= n, 60_000, `${n} ${event} lines`);
  return lines
    .filter((l) => l.event === event)
    .slice(0, n)
    .map((l) => l.retry_ms as number);
}

/** Each wait within ±20% of `firstMs` doubled per attempt. */
function checkDoubling(t: Test, got: number[], firstMs: number): void {
  got.forEach((ms, i) => {
    const base = firstMs * 2 ** i;
    t.ok(ms >= Math.floor(base * 0.8) && ms <= Math.ceil(base * 1.2), `wait ${i + 1}: ${ms} ms is ${base} ms ±20%`);
  });
}

t.test('kafka: retry.backoff.ms doubling while no broker answers, up once one does', async (t) => {
  const kafka = await startKafkaMock(1);
  t.teardown(() => kafka.stop());
  await kafka.down(-1);
  const { lines, log } = capture();
  const link = new KafkaLink(kafkaSettingsFrom({ 'bootstrap.servers': kafka.bootstrap, retries: '0', 'retry.backoff.ms': '50' }), log);
  t.teardown(() => link.close());
  link.start();
  checkDoubling(t, await waits(lines, 'kafka_connect_failed', 3), 50);
  t.notOk(link.up, 'down while no broker answers');
  await kafka.up(-1);
  await waitUntil(() => lines.some((l) => l.event === 'kafka_connected'), 60_000, 'kafka_connected');
  t.ok(link.up, 'up once the broker answers');
});

t.test('kinesis: 100 ms doubling while the API does not answer, up once it does', async (t) => {
  // Registered first: tap removes its own test folders before teardowns run.
  const dir = mkdtempSync(join(tmpdir(), 'ft-link-retry-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const kinesalite = await startKinesalite(dir);
  t.teardown(() => kinesalite.stop());
  await kinesalite.stop();
  Object.assign(process.env, KINESALITE_ENV);
  const { lines, log } = capture();
  const link = new KinesisLink(kinesisSettingsFrom({ override_host: kinesalite.endpoint, max_retries: 0 }, 'ns', {}), log);
  t.teardown(() => link.close());
  link.start();
  checkDoubling(t, await waits(lines, 'kinesis_connect_failed', 3), 100);
  t.notOk(link.up, 'down while the API does not answer');
  await kinesalite.start();
  await waitUntil(() => lines.some((l) => l.event === 'kinesis_connected'), 60_000, 'kinesis_connected');
  t.ok(link.up, 'up once the API answers');
});
