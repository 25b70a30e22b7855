/**
 * make bench: the end-to-end benchmark (issue #14). One run starts a stock mosquitto and the
 * real server (CLI, mTLS), drives K vehicles pipelining V frames, and measures acked frames/s,
 * ack latency and the server's CPU per field; then, against the same broker, a bare mqtt.js
 * client and a batched raw publisher for comparison. See bench/README.md.
 */
import { fork } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { makePki } from '../test/helpers/pki.js';
import { repoRoot } from '../test/helpers/server.js';
import { flagsOrExit, type FlagSpec } from './lib/args.js';
import { startBroker, type Broker } from './lib/broker.js';
import { BrokerPings, SYS_EVERY_SECOND, type PingSnapshot } from './lib/broker-pings.js';
import { deadlineExit, track, trackDir } from './lib/cleanup.js';
import { Fleet } from './lib/fleet.js';
import { measure, summarize, type Load, type PhaseSummary, type RunFigures } from './lib/measure.js';
import { freePort } from '../test/helpers/ports.js';
import { peakRssKb, rssKb } from './lib/proc.js';
import { serverPublishes, writePublishes } from './lib/publishes.js';
import { fix, int, ms, saveJson, table, type Column } from './lib/report.js';
import { request, type MarkReply } from './lib/rpc.js';
import { launchServer, type BenchServer } from './lib/server.js';

const SPEC = {
  vehicles: { type: 'number', default: 8, min: 1, max: 2000, int: true, help: 'vehicles (mTLS WebSocket connections)' },
  fields: { type: 'number', default: 20, min: 1, int: true, help: 'fields per V frame' },
  qos: { type: 'number', default: 1, min: 0, max: 2, int: true, help: "QoS of the server's publishes and of both baselines" },
  window: { type: 'number', default: 8, min: 1, max: 4096, int: true, help: 'unacked frames per vehicle' },
  rate: { type: 'number', min: 1, help: 'fixed total frames/s across vehicles instead of saturation' },
  seconds: { type: 'number', default: 8, min: 1, max: 600, help: 'length of one measured run' },
  runs: { type: 'number', default: 3, min: 1, max: 20, int: true, help: 'measured runs per phase (figures are medians)' },
  warmup: { type: 'number', default: 2, min: 0, max: 60, help: 'warm-up seconds before each phase' },
  half: { type: 'bool', default: true, help: 'after the saturated run, a fixed-rate run at half its rate (target p99 <= 5 ms)' },
  baselines: { type: 'bool', default: true, help: 'run the mqtt.js and batched-publisher baselines' },
  'driver-threads': { type: 'number', default: 1, min: 1, max: 8, int: true, help: 'worker threads the vehicles are spread over' },
  'mqttjs-window': { type: 'number', min: 1, int: true, help: 'mqtt.js unacked publishes (default vehicles x window x fields)' },
  batch: { type: 'number', default: 2000, min: 1, max: 30000, int: true, help: 'batched publisher: PUBLISH packets per socket write' },
  'batched-window': { type: 'number', default: 20000, min: 1, max: 65535, int: true, help: 'batched publisher: unacked publishes' },
  'broker-nodelay': { type: 'bool', default: false, help: 'diagnostic: set_tcp_nodelay true on mosquitto (the default run keeps it stock)' },
  tls: { type: 'bool', default: false, help: 'the server reaches mosquitto over TLS (a second listener; the baselines stay on plain TCP)' },
  workers: {
    type: 'number',
    default: 1,
    min: 1,
    max: 256,
    int: true,
    help: "the server's workers (processes serving vehicles; server CPU counts them, RSS is the primary's only)",
  },
  'server-node-options': { type: 'string', help: "node flags for the server process only, e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof'" },
  'server-log': { type: 'string', help: "append the server's stdout and stderr to this file" },
  'log-level': { type: 'string', default: 'warn', choices: ['warn', 'info'], help: "server's log level" },
  'unanswered-ms': { type: 'number', default: 5000, min: 100, help: 'a frame with no response after this long counts as unanswered' },
  help: { type: 'bool', default: false, help: 'this text' },
} satisfies Record<string, FlagSpec>;

const TITLE = 'usage: node build/bench/e2e.js [flags]   (make bench)';
const flags = flagsOrExit(process.argv.slice(2), SPEC, TITLE);

const K = flags.vehicles!;
const F = flags.fields!;
const QOS = flags.qos as 0 | 1 | 2;
const W = flags.window!;
const SECONDS = flags.seconds!;
const RUNS = flags.runs!;
const WARMUP = flags.warmup!;
const TOPIC_BASE = 'bench';
const DRAIN_MS = flags['unanswered-ms']! + 1000;
const log = (s: string) => process.stderr.write(s + '\n');

// Every phase is bounded; the whole script too (phases × their length, plus set-up and drains).
const phases = 1 + (flags.half && flags.rate === undefined ? 1 : 0) + (flags.baselines ? 2 : 0);
deadlineExit((phases * (WARMUP + RUNS * SECONDS) + phases * (DRAIN_MS / 1000 + 10) + 120) * 1000, 'bench');

interface PhaseResult {
  summary: PhaseSummary;
  runs: RunFigures[];
  /** The server's PINGREQs per frame in each run, from mosquitto's $SYS counters (the first run's include the warm-up). */
  pingreqsPerFrame?: number[];
  /** After the measured runs: what was still open at the drain, and what the drain answered. */
  drain?: { stillOutstanding: number; ackedDuringDrain: number; errors: number };
}

function progress(label: string, unit: string, subject: string, mult = 1) {
  return (i: number, r: RunFigures, extra = '') => {
    const lat = r.latency ? `, ack p50 ${ms(r.latency.p50)} ms p99 ${ms(r.latency.p99)} ms max ${ms(r.latency.max)} ms` : '';
    const bad = r.errors || r.unanswered ? `, ${r.errors} errors, ${r.unanswered} unanswered` : '';
    log(
      `  ${label} run ${i + 1}/${RUNS}: ${int(r.done / r.seconds)} ${unit}/s${lat}${bad}, ${subject} CPU ${fix((100 * r.cpu[subject]) / r.seconds, 0)}% ` +
        `(${fix((r.cpu[subject] * 1e6) / (r.done * mult), 2)} µs per ${mult > 1 ? 'field' : 'publish'}), mosquitto ${fix((100 * r.cpu.broker) / r.seconds, 0)}%, machine busy ${fix((100 * r.machineCpu) / r.seconds, 0)}%${extra}`,
    );
  };
}

async function serverPhase(fleet: Fleet, server: BenchServer, broker: Broker, pings: BrokerPings, label: string, rate?: number): Promise<PhaseResult> {
  log(
    `${label}: ${rate === undefined ? `saturating, window ${W} per vehicle` : `fixed ${int(rate)} frames/s in total`}; warm-up ${WARMUP} s, ${RUNS} × ${SECONDS} s`,
  );
  const say = progress(label, 'frames', 'server', F);
  const pingreqsPerFrame: number[] = [];
  let at: PingSnapshot = pings.snapshot();
  await fleet.start(rate);
  const runs = await measure(fleet, {
    warmupS: WARMUP,
    seconds: SECONDS,
    runs: RUNS,
    pids: { server: server.pid, broker: broker.pid, driver: process.pid },
    trees: ['server'],
    rssPid: server.pid,
    onRun: (i, r) => {
      // $SYS is a second old at most: a ratio of two counts from the same report.
      const now = pings.snapshot();
      const ppf = BrokerPings.perFrame(at, now, QOS, F);
      at = now;
      pingreqsPerFrame.push(ppf);
      say(i, r, `, PINGREQs per frame ${fix(ppf, 2)}`);
    },
  });
  const stop = await fleet.stop();
  if (stop.stillOutstanding || stop.unanswered) log(`  ${label}: ${stop.stillOutstanding} frames still unanswered ${DRAIN_MS} ms after the last send`);
  const summary = summarize(runs, 'server', F);
  // Frames given up on after the measured runs (drain included) count as unanswered too.
  summary.unanswered += stop.unanswered;
  summary.errors += stop.errors;
  return { summary, runs, pingreqsPerFrame, drain: { stillOutstanding: stop.stillOutstanding, ackedDuringDrain: stop.done, errors: stop.errors } };
}

async function publisherPhase(label: string, script: string, args: string[], broker: Broker): Promise<PhaseResult> {
  const child = track(fork(script, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  const send = (m: unknown) => child.send(m as object);
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`${label} exited (${code})`))));
  exited.catch(() => undefined);
  const ask = <T extends MarkReply>(cmd: unknown, reply: string, ms: number) => Promise.race([request<T>(child, send, cmd, reply, ms), exited]);
  try {
    await ask({ cmd: 'connect' }, 'connected', 10_000);
    log(`${label}: warm-up ${WARMUP} s, ${RUNS} × ${SECONDS} s`);
    await ask({ cmd: 'start' }, 'started', 10_000);
    const load: Load = { mark: () => ask<MarkReply>({ cmd: 'mark' }, 'mark', 10_000) };
    const runs = await measure(load, {
      warmupS: WARMUP,
      seconds: SECONDS,
      runs: RUNS,
      pids: { publisher: child.pid!, broker: broker.pid, driver: process.pid },
      onRun: progress(label, 'publishes', 'publisher'),
    });
    const stop = await ask<MarkReply & { stillOutstanding: number }>({ cmd: 'stop', ms: 5000 }, 'stopped', 15_000);
    await ask({ cmd: 'close' }, 'closed', 5000).catch(() => undefined);
    const summary = summarize(runs, 'publisher');
    summary.errors += stop.errors;
    return { summary, runs, drain: { stillOutstanding: stop.stillOutstanding, ackedDuringDrain: stop.done, errors: stop.errors } };
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  const load0 = loadavg();
  const dir = trackDir(mkdtempSync(join(tmpdir(), 'ft-bench-')));
  log(
    `e2e bench: ${K} vehicles × ${F} fields, QoS ${QOS}, window ${W}; node ${process.version}, ${cpus().length} cores, load average ${load0.map((l) => l.toFixed(2)).join(' ')}`,
  );

  const pki = await makePki(join(dir, 'pki'));
  const vins = Array.from({ length: K }, (_, i) => `5YJ3BENCH${String(i).padStart(8, '0')}`);
  const certs = await Promise.all(vins.map((v) => pki.vehicle(v)));
  // With --tls, a second listener (the server's certificate serves the broker too).
  const tlsPort = flags.tls ? await freePort() : undefined;
  const tlsListener = tlsPort ? [`listener ${tlsPort} 127.0.0.1`, `certfile ${pki.serverCert}`, `keyfile ${pki.serverKey}`] : [];
  const broker = await startBroker(dir, [SYS_EVERY_SECOND, ...(flags['broker-nodelay'] ? ['set_tcp_nodelay true'] : []), ...tlsListener]);
  const brokerUrl = tlsPort ? `mqtts://localhost:${tlsPort}` : broker.url;
  const pings = await BrokerPings.open(broker.url);
  const server = await launchServer(
    dir,
    {
      log_level: flags['log-level'],
      workers: flags.workers,
      records: { V: ['mqtt'] },
      tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
      mqtt: { broker: brokerUrl, topic_base: TOPIC_BASE, qos: QOS, ...(tlsPort ? { tls: { ca_file: pki.caFile } } : {}) },
    },
    { nodeOptions: flags['server-node-options'], logFile: flags['server-log'] },
  );
  log(
    `mosquitto pid ${broker.pid} on 127.0.0.1:${broker.port}${tlsPort ? ` (the server's link: TLS on ${tlsPort})` : ''}; server pid ${server.pid} on 127.0.0.1:${server.port}`,
  );
  const rssIdleKb = rssKb(server.pid);

  const fleet = new Fleet(
    { port: server.port, caPem: pki.ca.certPem, fields: F, window: W, unansweredMs: flags['unanswered-ms']!, drainMs: DRAIN_MS, log },
    vins.map((vin, i) => ({ vin, index: i, certPem: certs[i].certPem, keyPem: certs[i].keyPem })),
    Math.min(flags['driver-threads']!, K),
  );
  const results: Record<string, PhaseResult> = {};
  let halfRate: number | undefined;
  try {
    await fleet.connect();
    results.server = await serverPhase(fleet, server, broker, pings, flags.rate === undefined ? 'server (saturated)' : 'server (fixed rate)', flags.rate);
    if (flags.half && flags.rate === undefined) {
      halfRate = Math.max(1, Math.round(results.server.summary.perSecond / 2));
      results.half = await serverPhase(fleet, server, broker, pings, 'server (half load)', halfRate);
    }
  } finally {
    await fleet.close();
  }
  const serverPeakKb = peakRssKb(server.pid);
  const serverEvents = Object.fromEntries(server.events);
  const serverSamples = Object.fromEntries(server.samples);
  const alive = server.alive();
  const exitCode = await server.stop();

  if (flags.baselines) {
    const file = join(dir, 'publishes.json');
    writePublishes(file, serverPublishes(vins, F, TOPIC_BASE, QOS));
    const mqttjsWindow = flags['mqttjs-window'] ?? K * W * F;
    results.mqttjs = await publisherPhase(
      `mqtt.js (window ${int(mqttjsWindow)})`,
      new URL('./lib/mqttjs-publisher.js', import.meta.url).pathname,
      ['--url', broker.url, '--file', file, '--qos', String(QOS), '--window', String(mqttjsWindow)],
      broker,
    );
    results.batched = await publisherPhase(
      'batched publisher',
      new URL('./batched-publisher.js', import.meta.url).pathname,
      ['--port', String(broker.port), '--file', file, '--qos', String(QOS), '--batch', String(flags.batch), '--window', String(flags['batched-window'])],
      broker,
    );
  }
  await pings.close();
  await broker.stop();

  // ---- report ----
  const s = results.server.summary;
  const cols: Column[] = [
    {
      title: flags.rate === undefined ? 'server, saturated' : 'server, fixed rate',
      s,
      unit: 'frames',
      fields: F,
      load: flags.rate === undefined ? `${K}×${W} unacked` : `${int(flags.rate)} frames/s`,
      subject: 'server',
    },
  ];
  if (results.half)
    cols.push({ title: 'server, half load', s: results.half.summary, unit: 'frames', fields: F, load: `${int(halfRate)} frames/s`, subject: 'server' });
  if (results.mqttjs)
    cols.push({
      title: 'mqtt.js client',
      s: results.mqttjs.summary,
      unit: 'publishes',
      fields: F,
      load: `${int(flags['mqttjs-window'] ?? K * W * F)} unacked`,
      subject: 'publisher',
    });
  if (results.batched)
    cols.push({
      title: 'batched publisher',
      s: results.batched.summary,
      unit: 'publishes',
      fields: F,
      load: `${int(flags.batch)}/write`,
      subject: 'publisher',
    });

  const ratios = {
    cpuPerFieldOverMqttjsCpuPerPublish: results.mqttjs ? s.cpuUsPerUnit / results.mqttjs.summary.cpuUsPerUnit : undefined,
    fieldsPerSecondOverBatchedPublishesPerSecond: results.batched ? (s.perSecond * F) / results.batched.summary.perSecond : undefined,
    fieldsPerSecondOverMqttjsPublishesPerSecond: results.mqttjs ? (s.perSecond * F) / results.mqttjs.summary.perSecond : undefined,
  };
  const halfP99 = results.half?.summary.p99Ms;
  const ppf = (r?: PhaseResult) => (r?.pingreqsPerFrame ?? []).map((n) => fix(n, 2)).join(', ');
  const lines = [
    '',
    `e2e bench — ${K} vehicles × ${F} fields, QoS ${QOS}, window ${W}; medians of ${RUNS} runs × ${SECONDS} s after ${WARMUP} s warm-up`,
    `node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load average at start ${load0.map((l) => l.toFixed(2)).join(' ')}`,
    '',
    table(cols),
    '',
  ];
  if (ratios.cpuPerFieldOverMqttjsCpuPerPublish !== undefined)
    lines.push(`server CPU per field ÷ mqtt.js CPU per publish:        ${fix(ratios.cpuPerFieldOverMqttjsCpuPerPublish, 2)}×`);
  if (ratios.fieldsPerSecondOverBatchedPublishesPerSecond !== undefined)
    lines.push(`server fields/s ÷ batched publisher publishes/s:       ${fix(ratios.fieldsPerSecondOverBatchedPublishesPerSecond, 3)}`);
  if (ratios.fieldsPerSecondOverMqttjsPublishesPerSecond !== undefined)
    lines.push(`server fields/s ÷ mqtt.js publishes/s:                 ${fix(ratios.fieldsPerSecondOverMqttjsPublishesPerSecond, 3)}`);
  if (halfP99 !== undefined)
    lines.push(
      `ack p99 at half load (${int(halfRate)} frames/s, achieved ${int(results.half.summary.perSecond)}): ${ms(halfP99)} ms — target ≤ 5 ms: ${halfP99 <= 5 ? 'met' : 'NOT met'}`,
    );
  lines.push(`server PINGREQs per frame, by run (mosquitto's $SYS counts): ${ppf(results.server)}${results.half ? `; half load ${ppf(results.half)}` : ''}`);
  if (flags.rate !== undefined) lines.push(`fixed rate asked ${int(flags.rate)} frames/s, achieved ${int(s.perSecond)} frames/s`);
  lines.push(`server RSS: ${fix(rssIdleKb / 1024, 0)} MB idle, peak (VmHWM) ${fix(serverPeakKb / 1024, 0)} MB`);
  const noted = Object.entries(serverEvents).filter(([e]) => e !== 'unparsed');
  lines.push(`server log events (level ${flags['log-level']}+): ${noted.length ? noted.map(([e, n]) => `${e} ×${n}`).join(', ') : 'none'}`);
  if (!alive) lines.push(`server had exited before the end (code ${exitCode}): ${server.stderrTail().slice(-500)}`);
  const notes = [...cols.map((c) => (c.s.windowFull ? `${c.title}: a due frame waited for a window slot ${int(c.s.windowFull)} times` : ''))].filter(Boolean);
  for (const n of notes) lines.push(n);
  const busiest = Math.max(...cols.map((c) => c.s.otherPercent));
  if (busiest > 15)
    lines.push(`warning: other processes used up to ${fix(busiest, 0)}% CPU during the runs: this machine was shared, the figures are not clean`);
  console.log(lines.join('\n'));

  const file = saveJson(join(repoRoot(), 'bench', 'results'), 'e2e', {
    bench: 'e2e',
    date: new Date().toISOString(),
    elapsedS: Math.round((Date.now() - started) / 1000),
    machine: { node: process.version, cores: cpus().length, cpu: cpus()[0]?.model, loadavgStart: load0, loadavgEnd: loadavg() },
    settings: {
      tls: flags.tls,
      vehicles: K,
      fields: F,
      workers: flags.workers,
      qos: QOS,
      window: W,
      rate: flags.rate ?? null,
      seconds: SECONDS,
      runs: RUNS,
      warmup: WARMUP,
      driverThreads: flags['driver-threads'],
      mqttjsWindow: flags['mqttjs-window'] ?? K * W * F,
      batch: flags.batch,
      batchedWindow: flags['batched-window'],
      logLevel: flags['log-level'],
      unansweredMs: flags['unanswered-ms'],
    },
    server: { rssIdleMb: rssIdleKb / 1024, rssPeakMb: serverPeakKb / 1024, events: serverEvents, eventSamples: serverSamples, exitCode },
    halfRate: halfRate ?? null,
    halfLoadP99TargetMet: halfP99 === undefined ? null : halfP99 <= 5,
    phases: results,
    ratios,
  });
  log(`\nwrote ${file} (and latest.json) in ${Math.round((Date.now() - started) / 1000)} s`);
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    log(`bench failed: ${err.stack ?? err.message}`);
    process.exit(1);
  },
);
