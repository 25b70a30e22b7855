/**
 * make bench-burst: can one vehicle starve the others, or swell the server? A stock mosquitto, the
 * real server (CLI, mTLS, QoS 1), one vehicle pipelining N × 50-field V frames as fast as it can
 * (resending what gets no response, as a car does) beside P paced vehicles sending one frame
 * every 200 ms. Prints the paced vehicles' ack latency, the burst's acked frames/s and the
 * server's peak RSS (sampled from /proc every 100 ms). `--hung-broker-seconds S` SIGSTOPs
 * mosquitto for S seconds mid-run. See bench/README.md.
 */
import { mkdtempSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import WebSocket from 'ws';
import { makePki } from '../test/helpers/pki.js';
import { flagsOrExit, type FlagSpec } from './lib/args.js';
import { startBroker } from './lib/broker.js';
import type { BurstData, BurstResult } from './lib/burst-worker.js';
import { deadlineExit, trackDir } from './lib/cleanup.js';
import { FrameTemplate, readResponse, RESPONSE_ACK, RESPONSE_ERROR } from './lib/frames.js';
import { sleep } from './lib/net.js';
import { rssKb } from './lib/proc.js';
import { launchServer } from './lib/server.js';
import { latencyHistogram, percentiles } from './lib/stats.js';

const SPEC = {
  frames: { type: 'number', default: 20_000, min: 1, max: 10_000_000, int: true, help: 'frames the burst vehicle sends' },
  paced: { type: 'number', default: 4, min: 0, max: 500, int: true, help: 'paced vehicles beside it' },
  'interval-ms': { type: 'number', default: 200, min: 1, help: 'one frame per paced vehicle every this many ms' },
  fields: { type: 'number', default: 50, min: 1, int: true, help: 'fields per V frame' },
  window: { type: 'number', default: 5000, min: 1, int: true, help: 'burst vehicle: most frames without a response at once' },
  'resend-ms': { type: 'number', default: 5000, min: 100, help: 'burst vehicle: resend a frame with no response after this long' },
  'unanswered-ms': { type: 'number', default: 5000, min: 100, help: 'paced frame with no response after this long counts unanswered' },
  'hung-broker-seconds': { type: 'number', default: 0, min: 0, max: 600, help: 'SIGSTOP mosquitto for this long mid-run (0: never)' },
  'hung-at-seconds': { type: 'number', default: 2, min: 0, help: 'when the broker is stopped, from the start of the burst' },
  'max-seconds': { type: 'number', default: 300, min: 5, max: 3600, help: 'the burst is stopped after this long whatever its count' },
  qos: { type: 'number', default: 1, min: 0, max: 2, int: true, help: "QoS of the server's publishes" },
  'log-level': { type: 'string', default: 'warn', choices: ['trace', 'debug', 'info', 'warn', 'error'], help: "the server's log level" },
  json: { type: 'bool', default: false, help: 'also print the summary as one JSON line' },
  help: { type: 'bool', default: false, help: 'this text' },
} satisfies Record<string, FlagSpec>;
const TITLE = 'bench/burst.ts: one vehicle bursting beside paced ones; their ack latency and the server peak RSS';
const flags = flagsOrExit(process.argv.slice(2), SPEC, TITLE);
const N = flags.frames!;
const P = flags.paced!;
const HUNG_S = flags['hung-broker-seconds']!;
const MAX_S = flags['max-seconds']!;
const log = (s: string) => process.stderr.write(`${s}\n`);
// Everything has a bound: start-up, the burst, the drain, the shutdown.
deadlineExit((MAX_S + HUNG_S + 120) * 1000, 'bench-burst');

/** A paced vehicle: one frame every interval, each response timed; no resends (it is the probe). */
class Paced {
  ws!: WebSocket;
  readonly tpl: FrameTemplate;
  next = 0;
  readonly sentAt = new Map<number, number>();
  readonly latencies: number[] = [];
  errors = 0;
  unanswered = 0;
  closeCode?: number;
  private readonly resp = { kind: 0, seq: -1 };

  constructor(
    readonly vin: string,
    index: number,
  ) {
    this.tpl = new FrameTemplate(vin, index, flags.fields!);
  }

  connect(port: number, certPem: string, keyPem: string, caPem: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`wss://127.0.0.1:${port}/`, { cert: certPem, key: keyPem, ca: caPem, perMessageDeflate: false });
      this.ws = ws;
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.on('error', () => {});
      ws.on('close', (code) => (this.closeCode = code));
      ws.on('message', (buf: Buffer) => {
        const now = performance.now();
        readResponse(buf, this.resp);
        const at = this.sentAt.get(this.resp.seq);
        if (at === undefined) return;
        this.sentAt.delete(this.resp.seq);
        if (this.resp.kind === RESPONSE_ACK) this.latencies.push(now - at);
        else if (this.resp.kind === RESPONSE_ERROR) this.errors++;
      });
    });
  }

  send(): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    const seq = this.next++;
    this.sentAt.set(seq, performance.now());
    this.ws.send(this.tpl.frame(seq), { binary: true });
  }

  /** Frames past the deadline are given up and counted. */
  sweep(now: number, ms: number): void {
    for (const [seq, at] of this.sentAt) {
      if (now - at < ms) break;
      this.sentAt.delete(seq);
      this.unanswered++;
    }
  }

  /** Sends until one is acked (the server's broker link is up). */
  async probe(ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (this.latencies.length === 0) {
      if (Date.now() > end) throw new Error(`${this.vin}: no ack within ${ms} ms (is the server connected to the broker?)`);
      this.send();
      await sleep(500);
    }
    this.latencies.length = 0;
    this.sentAt.clear();
  }
}

async function main(): Promise<void> {
  const dir = trackDir(mkdtempSync(join(tmpdir(), 'ft-burst-')));
  log(
    `bench-burst: ${N} frames × ${flags.fields} fields from 1 vehicle beside ${P} paced (1 / ${flags['interval-ms']} ms), QoS ${flags.qos}` +
      `${HUNG_S ? `, broker SIGSTOPped ${HUNG_S} s at ${flags['hung-at-seconds']} s` : ''}; node ${process.version}, ${cpus().length} cores, load ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
  );
  const pki = await makePki(join(dir, 'pki'));
  const broker = await startBroker(dir);
  const server = await launchServer(dir, {
    log_level: flags['log-level'],
    records: { V: ['mqtt'] },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
    mqtt: { broker: broker.url, topic_base: 'burst', qos: flags.qos },
  });
  log(`mosquitto pid ${broker.pid}, server pid ${server.pid}`);
  const rssIdleKb = rssKb(server.pid);

  const paced: Paced[] = [];
  for (let i = 0; i < P; i++) {
    const car = new Paced(`5YJ3PACED${String(i).padStart(8, '0')}`, 1000 + i);
    const cert = await pki.vehicle(car.vin);
    await car.connect(server.port, cert.certPem, cert.keyPem, pki.ca.certPem);
    paced.push(car);
  }
  for (const car of paced) await car.probe(20_000);

  const burstVin = '5YJ3BURST00000000';
  const burstCert = await pki.vehicle(burstVin);
  const data: BurstData = {
    port: server.port,
    caPem: pki.ca.certPem,
    vin: burstVin,
    index: 0,
    certPem: burstCert.certPem,
    keyPem: burstCert.keyPem,
    frames: N,
    fields: flags.fields!,
    window: flags.window!,
    resendMs: flags['resend-ms']!,
  };
  const worker = new Worker(new URL('./lib/burst-worker.js', import.meta.url), { workerData: data });
  worker.on('error', (err) => {
    log(`burst thread failed: ${err.stack ?? err}`);
    process.exit(1);
  });
  let lastProgress = '';
  const done = new Promise<BurstResult>((resolve) =>
    worker.on('message', (m: { type: string; message?: string; [k: string]: unknown }) => {
      if (m.type === 'log') log(`  ${m.message}`);
      else if (m.type === 'progress')
        lastProgress = `acked ${String(m.acked)}, sent ${String(m.sent)}, resent ${String(m.resent)}, errors ${String(m.errors)}, in flight ${String(m.outstanding)}`;
      else if (m.type === 'done') resolve(m as unknown as BurstResult);
    }),
  );
  await new Promise<void>((resolve) => worker.once('message', (m: { type: string }) => m.type === 'connected' && resolve()));

  // Peak RSS from /proc every 100 ms (VmHWM would include start-up and every earlier phase).
  let peakKb = rssIdleKb;
  let hungPeakKb = 0;
  let hung = false;
  const sampler = setInterval(() => {
    const r = rssKb(server.pid);
    if (r > peakKb) peakKb = r;
    if (hung && r > hungPeakKb) hungPeakKb = r;
  }, 100);
  const interval = flags['interval-ms']!;
  const pacers = paced.map((car, i) => {
    let timer: NodeJS.Timeout | undefined;
    const start = setTimeout(
      () => {
        car.send();
        timer = setInterval(() => car.send(), interval);
      },
      (interval * i) / Math.max(1, P),
    );
    return () => {
      clearTimeout(start);
      clearInterval(timer);
    };
  });
  const sweeper = setInterval(() => paced.forEach((c) => c.sweep(performance.now(), flags['unanswered-ms']!)), 100);
  const status = setInterval(
    () => lastProgress && log(`  burst: ${lastProgress}; server RSS ${Math.round(rssKb(server.pid) / 1024)} MB${hung ? ' (broker stopped)' : ''}`),
    5000,
  );

  const t0 = Date.now();
  worker.postMessage({ cmd: 'start' });
  let hangDone: Promise<void> = Promise.resolve();
  if (HUNG_S > 0) {
    hangDone = (async () => {
      await sleep(flags['hung-at-seconds']! * 1000);
      process.kill(broker.pid, 'SIGSTOP');
      hung = true;
      log(`  broker SIGSTOPped at ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      await sleep(HUNG_S * 1000);
      hung = false;
      process.kill(broker.pid, 'SIGCONT');
      log(`  broker resumed at ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    })();
  }
  const timeout = setTimeout(() => {
    log(`  the burst is stopped after ${MAX_S} s`);
    worker.postMessage({ cmd: 'stop' });
  }, MAX_S * 1000);
  const burst = await done;
  clearTimeout(timeout);
  await hangDone;
  await sleep(1000);
  pacers.forEach((stop) => stop());
  // Paced frames still out get their full wait before they count as unanswered.
  const drainEnd = Date.now() + flags['unanswered-ms']!;
  while (Date.now() < drainEnd && paced.some((c) => c.sentAt.size > 0)) await sleep(50);
  clearInterval(sweeper);
  for (const c of paced) c.sweep(Infinity, 0);
  clearInterval(status);
  clearInterval(sampler);

  const lat = percentiles(latencyHistogram(paced.flatMap((c) => c.latencies)));
  const summary = {
    frames: N,
    fields: flags.fields,
    paced_vehicles: P,
    hung_broker_s: HUNG_S,
    paced_ack_ms: { p50: round(lat.p50), p99: round(lat.p99), max: round(lat.max) },
    paced_acked: lat.count,
    paced_unanswered: paced.reduce((n, c) => n + c.unanswered, 0),
    paced_errors: paced.reduce((n, c) => n + c.errors, 0),
    paced_closed: paced.filter((c) => c.closeCode !== undefined).length,
    burst_acked: burst.acked,
    burst_acked_per_s: Math.round(burst.acked / (burst.elapsedMs / 1000)),
    burst_seconds: round(burst.elapsedMs / 1000),
    burst_resent: burst.resent,
    burst_errors: burst.errors,
    burst_unacked_at_end: burst.unackedAtEnd,
    burst_closed: burst.closeCode ?? null,
    server_rss_idle_mb: Math.round(rssIdleKb / 1024),
    server_rss_peak_mb: Math.round(peakKb / 1024),
    server_rss_peak_while_hung_mb: HUNG_S ? Math.round(hungPeakKb / 1024) : null,
    server_alive: server.alive(),
    server_events: Object.fromEntries(server.events),
  };
  worker.postMessage({ cmd: 'close' });
  for (const c of paced) c.ws.terminate();
  await Promise.race([new Promise((r) => worker.once('message', r)), sleep(2000)]);
  await worker.terminate();
  await server.stop();
  await broker.stop();

  console.log(
    `paced vehicles (${P}, 1 frame / ${interval} ms): ack p50 ${fmt(lat.p50)} ms, p99 ${fmt(lat.p99)} ms, max ${fmt(lat.max)} ms; ${lat.count} acked, ${summary.paced_unanswered} unanswered, ${summary.paced_errors} errors`,
  );
  console.log(
    `burst vehicle: ${burst.acked} of ${N} acked in ${fmt(burst.elapsedMs / 1000)} s = ${summary.burst_acked_per_s} acked/s (${burst.resent} resent, ${burst.errors} errors, ${burst.unackedAtEnd} unacked at end)`,
  );
  console.log(
    `server RSS: idle ${summary.server_rss_idle_mb} MB, peak ${summary.server_rss_peak_mb} MB${HUNG_S ? `, peak while the broker was stopped (${HUNG_S} s) ${summary.server_rss_peak_while_hung_mb} MB` : ''}; ${summary.server_alive ? 'alive' : 'DIED'} at the end`,
  );
  const ev = Object.entries(summary.server_events).filter(([k]) => k !== 'level_30');
  if (ev.length) console.log(`server log events: ${ev.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  if (flags.json) console.log(JSON.stringify(summary));
  process.exit(summary.server_alive ? 0 : 1);
}

const round = (x: number) => Math.round(x * 10) / 10;
const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-');

main().catch((err: Error) => {
  log(err.stack ?? String(err));
  process.exit(1);
});
