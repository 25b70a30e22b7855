/**
 * make bench-dispatch: the same vehicles through the real server to each of mqtt (mosquitto),
 * kafka (librdkafka's mock cluster), kinesis (kinesalite), redis (redis-server, a PSUBSCRIBE
 * consumer) and zmq (a SUB socket), one after the other: acked fields/s, and the server's CPU per
 * record and per field. See bench/README.md.
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKafkaMock } from '../test/helpers/kafka-mock.js';
import { KINESALITE_ENV, startKinesalite } from '../test/helpers/kinesalite.js';
import { makePki } from '../test/helpers/pki.js';
import { freePort } from '../test/helpers/ports.js';
import { startRedis, subscribeRedis } from '../test/helpers/redis.js';
import { subscribeZmq } from '../test/helpers/zmq.js';
import { flagsOrExit, type FlagSpec } from './lib/args.js';
import { startBroker } from './lib/broker.js';
import { deadlineExit, trackDir } from './lib/cleanup.js';
import { Fleet } from './lib/fleet.js';
import { measure, summarize, type Load, type PhaseSummary } from './lib/measure.js';
import { median } from './lib/stats.js';
import { fix, int, ms } from './lib/report.js';
import { launchServer } from './lib/server.js';

const SINKS = ['mqtt', 'kafka', 'kinesis', 'redis', 'zmq'] as const;
type Sink = (typeof SINKS)[number];

const SPEC = {
  sinks: { type: 'string', default: SINKS.join(','), help: `producers to measure, in order: ${SINKS.join(', ')}` },
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

/** A consumer on the sink's side, counting what it received. */
interface Consumer {
  count(): number;
  close(): unknown;
}

interface SinkRun {
  /** The sink's own process, when it has one (zmq's PUB socket lives in the server). */
  pid?: number;
  config: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
  /** Subscribed once the server runs (a PUB socket exists only then). */
  consumer?: () => Promise<Consumer>;
  stop(): Promise<void>;
}

const routeV = (sink: Sink, block: Record<string, unknown>) => ({ namespace: 'bench', records: { V: [sink] }, [sink]: block });

/** The server each producer sends to, started for its phase, and what it is, for the table. */
const SINK_SERVERS: Record<Sink, { to: string; start(dir: string): Promise<SinkRun> }> = {
  mqtt: {
    to: 'mosquitto, QoS 1',
    async start(dir) {
      const b = await startBroker(dir);
      return { pid: b.pid, config: { records: { V: ['mqtt'] }, mqtt: { broker: b.url, topic_base: 'bench', qos: 1 } }, stop: () => b.stop() };
    },
  },
  kafka: {
    to: 'librdkafka mock cluster, 3 brokers, acks=all',
    async start() {
      const k = await startKafkaMock(3);
      return { pid: k.pid, config: routeV('kafka', { 'bootstrap.servers': k.bootstrap }), stop: () => k.stop() };
    },
  },
  kinesis: {
    to: 'kinesalite, 4 shards',
    async start(dir) {
      const path = join(dir, 'kinesis');
      mkdirSync(path);
      const k = await startKinesalite(path);
      await k.createStream('bench_V', 4);
      return { pid: k.pid()!, config: routeV('kinesis', { override_host: k.endpoint }), env: KINESALITE_ENV, stop: () => k.stop() };
    },
  },
  redis: {
    to: 'redis-server, PUBLISH on the VIN channel, 1 PSUBSCRIBE consumer',
    async start(dir) {
      const r = await startRedis(dir);
      return {
        pid: r.pid(),
        config: routeV('redis', { addrs: [`127.0.0.1:${r.port}`], publish_vin_topics: true }),
        consumer: () => subscribeRedis(r.port, { keep: false }),
        stop: () => r.stop(),
      };
    },
  },
  zmq: {
    to: 'PUB socket in the server, 1 SUB consumer',
    async start() {
      const port = await freePort();
      return {
        config: routeV('zmq', { addr: `tcp://127.0.0.1:${port}` }),
        consumer: async () => subscribeZmq(port, { keep: false }),
        stop: async () => {},
      };
    },
  },
};

/** The fleet as measured, with the consumer's count read at each mark: messages received per run. */
function counted(fleet: Fleet, consumer: Consumer | undefined, received: number[]): Load {
  let last = 0;
  return {
    async mark() {
      const m = await fleet.mark();
      const n = consumer?.count() ?? 0;
      received.push(n - last);
      last = n;
      return m;
    },
  };
}

interface PhaseResult {
  s: PhaseSummary;
  /** Median over the runs of the consumer's messages per record acked; undefined without a consumer. */
  receivedPerRecord?: number;
  /** 1-minute load average when the phase's runs ended. */
  load: number;
}

async function phase(
  sink: Sink,
  dir: string,
  pki: Awaited<ReturnType<typeof makePki>>,
  certs: { vin: string; certPem: string; keyPem: string }[],
): Promise<PhaseResult> {
  const target = await SINK_SERVERS[sink].start(dir);
  Object.assign(process.env, target.env ?? {});
  const server = await launchServer(dir, {
    log_level: 'warn',
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
    ...target.config,
  });
  const fleet = new Fleet(
    { port: server.port, caPem: pki.ca.certPem, fields: F, window: flags.window!, unansweredMs: UNANSWERED_MS, drainMs: UNANSWERED_MS + 1000, log },
    certs.map((c, i) => ({ vin: c.vin, index: i, certPem: c.certPem, keyPem: c.keyPem })),
    1,
  );
  let consumer: Consumer | undefined;
  try {
    consumer = await target.consumer?.();
    // The producer connects after the listener (and a SUB socket subscribes a moment after it connects): give it a moment.
    await new Promise((r) => setTimeout(r, 2000));
    await fleet.connect();
    await fleet.start();
    // The first entry is the warm-up's, before the measured runs.
    const received: number[] = [];
    const runs = await measure(counted(fleet, consumer, received), {
      warmupS: flags.warmup!,
      seconds: flags.seconds!,
      runs: flags.runs!,
      pids: { server: server.pid, driver: process.pid, ...(target.pid ? { sink: target.pid } : {}) },
      trees: ['server'],
      onRun: (i, r) =>
        log(
          `  ${sink} run ${i + 1}: ${int((r.done * F) / r.seconds)} fields/s, server ${fix((r.cpu.server * 1e6) / r.done, 1)} µs per record, ${r.errors} errors, ${r.unanswered} unanswered` +
            (consumer ? `, consumer received ${int(received[i + 1])} for ${int(r.done)} acked` : ''),
        ),
    });
    const load = loadavg()[0];
    await fleet.stop();
    const receivedPerRecord = consumer ? median(runs.map((r, i) => received[i + 1] / r.done)) : undefined;
    return { s: summarize(runs, 'server'), receivedPerRecord, load };
  } finally {
    await consumer?.close();
    await fleet.close();
    await server.stop();
    await target.stop();
  }
}

async function main(): Promise<void> {
  const load0 = loadavg();
  const dir = trackDir(mkdtempSync(join(tmpdir(), 'ft-bench-dispatch-')));
  log(
    `dispatch bench: ${K} vehicles × ${F} fields, window ${flags.window}; node ${process.version}, ${cpus().length} cores, load average ${load0.map((l) => l.toFixed(2)).join(' ')}`,
  );
  const pki = await makePki(join(dir, 'pki'));
  const vins = Array.from({ length: K }, (_, i) => `5YJ3BENCH${String(i).padStart(8, '0')}`);
  const certs = await Promise.all(vins.map(async (vin) => ({ vin, ...(await pki.vehicle(vin)) })));
  const rows: string[] = [
    '| producer (server it sends to) | fields/s | records/s | server CPU per record | per field | ack p50 / p99 | server CPU | other CPU | consumer got per record | load average |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const sink of sinks) {
    log(`${sink}: warm-up ${flags.warmup} s, ${flags.runs} × ${flags.seconds} s`);
    const { s, receivedPerRecord, load } = await phase(sink, dir, pki, certs);
    rows.push(
      `| ${sink} (${SINK_SERVERS[sink].to}) | ${int(s.perSecond * F)} | ${int(s.perSecond)} | ${fix(s.cpuUsPerUnit, 1)} µs | ${fix(s.cpuUsPerUnit / F, 2)} µs | ${ms(s.p50Ms ?? NaN)} / ${ms(s.p99Ms ?? NaN)} ms | ${fix(s.cpuPercent.server, 0)}% | ${fix(s.otherPercent, 0)}% | ${fix(receivedPerRecord, 2)} | ${fix(load, 2)} |`,
    );
    if (s.errors || s.unanswered) rows.push(`<!-- ${sink}: ${s.errors} errors, ${s.unanswered} unanswered -->`);
  }
  console.log(
    `\ndispatch bench — ${K} vehicles × ${F} fields, window ${flags.window}; medians of ${flags.runs} runs × ${flags.seconds} s; load average at start ${load0.map((l) => l.toFixed(2)).join(' ')}\n`,
  );
  console.log(rows.join('\n'));
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    log(`bench failed: ${err.stack ?? err.message}`);
    process.exit(1);
  },
);
