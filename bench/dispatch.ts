/**
 * make bench-dispatch: the same vehicles through the real server to each of mqtt (mosquitto),
 * kafka (librdkafka's mock cluster) and kinesis (kinesalite), one after the other: acked
 * fields/s, and the server's CPU per record and per field. See bench/README.md.
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKafkaMock } from '../test/helpers/kafka-mock.js';
import { KINESALITE_ENV, startKinesalite } from '../test/helpers/kinesalite.js';
import { makePki } from '../test/helpers/pki.js';
import { flagsOrExit, type FlagSpec } from './lib/args.js';
import { startBroker } from './lib/broker.js';
import { deadlineExit, trackDir } from './lib/cleanup.js';
import { Fleet } from './lib/fleet.js';
import { measure, summarize, type PhaseSummary } from './lib/measure.js';
import { fix, int, ms } from './lib/report.js';
import { launchServer } from './lib/server.js';

const SINKS = ['mqtt', 'kafka', 'kinesis'] as const;
type Sink = (typeof SINKS)[number];

const SPEC = {
  sinks: { type: 'string', default: SINKS.join(','), help: 'producers to measure, in order: mqtt, kafka, kinesis' },
  vehicles: { type: 'number', default: 8, min: 1, max: 2000, int: true, help: 'vehicles (mTLS WebSocket connections)' },
  fields: { type: 'number', default: 20, min: 1, int: true, help: 'fields per V frame' },
  window: { type: 'number', default: 8, min: 1, max: 4096, int: true, help: 'unacked frames per vehicle' },
  seconds: { type: 'number', default: 5, min: 1, max: 600, help: 'length of one measured run' },
  runs: { type: 'number', default: 3, min: 1, max: 20, int: true, help: 'measured runs per producer (figures are medians)' },
  warmup: { type: 'number', default: 2, min: 0, max: 60, help: 'warm-up seconds before each producer' },
  help: { type: 'bool', default: false, help: 'this text' },
} satisfies Record<string, FlagSpec>;

const flags = flagsOrExit(process.argv.slice(2), SPEC, 'usage: node build/bench/dispatch.js [flags]   (make bench-dispatch)');
const sinks = flags.sinks!.split(',').filter(Boolean) as Sink[];
for (const s of sinks) if (!SINKS.includes(s)) throw new Error(`unknown sink ${s}`);
const K = flags.vehicles!;
const F = flags.fields!;
const UNANSWERED_MS = 5000;
const log = (s: string) => process.stderr.write(s + '\n');

deadlineExit((sinks.length * (flags.warmup! + flags.runs! * flags.seconds! + 40) + 120) * 1000, 'bench-dispatch');

interface SinkRun {
  pid: number;
  config: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

/** The server each producer sends to, started for its phase. */
async function startSink(sink: Sink, dir: string): Promise<SinkRun> {
  if (sink === 'mqtt') {
    const b = await startBroker(dir);
    return { pid: b.pid, config: { records: { V: ['mqtt'] }, mqtt: { broker: b.url, topic_base: 'bench', qos: 1 } }, stop: () => b.stop() };
  }
  if (sink === 'kafka') {
    const k = await startKafkaMock(3);
    return { pid: k.pid, config: { namespace: 'bench', records: { V: ['kafka'] }, kafka: { 'bootstrap.servers': k.bootstrap } }, stop: () => k.stop() };
  }
  const path = join(dir, 'kinesis');
  mkdirSync(path);
  const k = await startKinesalite(path);
  await k.createStream('bench_V', 4);
  return {
    pid: k.pid()!,
    config: { namespace: 'bench', records: { V: ['kinesis'] }, kinesis: { override_host: k.endpoint } },
    env: KINESALITE_ENV,
    stop: () => k.stop(),
  };
}

async function phase(sink: Sink, dir: string, pki: Awaited<ReturnType<typeof makePki>>, certs: { vin: string; certPem: string; keyPem: string }[]): Promise<PhaseSummary> {
  const target = await startSink(sink, dir);
  Object.assign(process.env, target.env ?? {});
  const server = await launchServer(dir, { log_level: 'warn', tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile }, ...target.config });
  const fleet = new Fleet(
    { port: server.port, caPem: pki.ca.certPem, fields: F, window: flags.window!, unansweredMs: UNANSWERED_MS, drainMs: UNANSWERED_MS + 1000, log },
    certs.map((c, i) => ({ vin: c.vin, index: i, certPem: c.certPem, keyPem: c.keyPem })),
    1,
  );
  try {
    // The producer connects after the listener: give it the warm-up and a moment more.
    await new Promise((r) => setTimeout(r, 2000));
    await fleet.connect();
    await fleet.start();
    const runs = await measure(fleet, {
      warmupS: flags.warmup!,
      seconds: flags.seconds!,
      runs: flags.runs!,
      pids: { server: server.pid, sink: target.pid, driver: process.pid },
      trees: ['server'],
      onRun: (i, r) =>
        log(`  ${sink} run ${i + 1}: ${int((r.done * F) / r.seconds)} fields/s, server ${fix((r.cpu.server * 1e6) / r.done, 1)} µs per record, ${r.errors} errors, ${r.unanswered} unanswered`),
    });
    await fleet.stop();
    return summarize(runs, 'server');
  } finally {
    await fleet.close();
    await server.stop();
    await target.stop();
  }
}

async function main(): Promise<void> {
  const load0 = loadavg();
  const dir = trackDir(mkdtempSync(join(tmpdir(), 'ft-bench-dispatch-')));
  log(`dispatch bench: ${K} vehicles × ${F} fields, window ${flags.window}; node ${process.version}, ${cpus().length} cores, load average ${load0.map((l) => l.toFixed(2)).join(' ')}`);
  const pki = await makePki(join(dir, 'pki'));
  const vins = Array.from({ length: K }, (_, i) => `5YJ3BENCH${String(i).padStart(8, '0')}`);
  const certs = await Promise.all(vins.map(async (vin) => ({ vin, ...(await pki.vehicle(vin)) })));
  const rows: string[] = ['| producer (server it sends to) | fields/s | records/s | server CPU per record | per field | ack p50 / p99 | server CPU | other CPU |', '|---|---|---|---|---|---|---|---|'];
  for (const sink of sinks) {
    log(`${sink}: warm-up ${flags.warmup} s, ${flags.runs} × ${flags.seconds} s`);
    const s = await phase(sink, dir, pki, certs);
    const to = { mqtt: 'mosquitto, QoS 1', kafka: 'librdkafka mock cluster, 3 brokers, acks=all', kinesis: 'kinesalite, 4 shards' }[sink];
    rows.push(
      `| ${sink} (${to}) | ${int(s.perSecond * F)} | ${int(s.perSecond)} | ${fix(s.cpuUsPerUnit, 1)} µs | ${fix(s.cpuUsPerUnit / F, 2)} µs | ${ms(s.p50Ms ?? NaN)} / ${ms(s.p99Ms ?? NaN)} ms | ${fix(s.cpuPercent.server, 0)}% | ${fix(s.otherPercent, 0)}% |`,
    );
    if (s.errors || s.unanswered) rows.push(`<!-- ${sink}: ${s.errors} errors, ${s.unanswered} unanswered -->`);
  }
  console.log(`\ndispatch bench — ${K} vehicles × ${F} fields, window ${flags.window}; medians of ${flags.runs} runs × ${flags.seconds} s; load average at start ${load0.map((l) => l.toFixed(2)).join(' ')}\n`);
  console.log(rows.join('\n'));
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    log(`bench failed: ${err.stack ?? err.message}`);
    process.exit(1);
  },
);
