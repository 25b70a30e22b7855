/**
 * make bench-storm: N idle mTLS vehicles on one server, then kill -9 of the server and an
 * immediate restart on the same port. Every vehicle reconnects at once (after a small random
 * delay) and sends a frame; measured: time until all are connected again and all have had that
 * frame acked. Run once per --workers value (default 1 and 2).
 */
import { mkdtempSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import WebSocket from 'ws';
import { makePki } from '../test/helpers/pki.js';
import { freePort } from '../test/helpers/ports.js';
import { flagsOrExit, type FlagSpec } from './lib/args.js';
import { startBroker } from './lib/broker.js';
import { deadlineExit, trackDir } from './lib/cleanup.js';
import { FrameTemplate, readResponse, RESPONSE_ACK } from './lib/frames.js';
import { sleep, waitForPort } from './lib/net.js';
import { fdLimits } from './lib/proc.js';
import { fix, int } from './lib/report.js';
import { launchServer, type BenchServer } from './lib/server.js';

const SPEC = {
  vehicles: { type: 'number', default: 10_000, min: 1, max: 100_000, int: true, help: 'vehicles (capped by the fd limit)' },
  workers: { type: 'string', default: '1,2', help: 'comma-separated `workers` values, one run each' },
  certs: { type: 'number', default: 200, min: 1, max: 10_000, int: true, help: 'distinct vehicle certificates, shared round-robin' },
  batch: { type: 'number', default: 200, min: 1, max: 5000, int: true, help: 'connections opened at once before the restart' },
  'jitter-ms': { type: 'number', default: 1000, min: 0, max: 60_000, help: "a vehicle's random delay before reconnecting" },
  'retry-ms': { type: 'number', default: 500, min: 10, max: 60_000, help: 'delay after a failed attempt (plus the jitter)' },
  'max-seconds': { type: 'number', default: 180, min: 10, max: 1800, help: 'bound on one storm' },
  help: { type: 'bool', default: false, help: 'this text' },
} satisfies Record<string, FlagSpec>;

const flags = flagsOrExit(process.argv.slice(2), SPEC, 'usage: node build/bench/storm.js [flags]   (make bench-storm)');
const log = (s: string) => process.stderr.write(s + '\n');
const workerRuns = flags.workers!.split(',').map((w) => Number(w.trim()));
if (workerRuns.some((w) => !Number.isInteger(w) || w < 1)) {
  log(`--workers: positive integers, not ${flags.workers}`);
  process.exit(2);
}
deadlineExit((flags['max-seconds']! * 2 + 120) * 1000 * workerRuns.length, 'bench-storm');

/** One vehicle: reconnects after a random delay whenever its connection ends; one frame per connection. */
class Vehicle {
  ws?: WebSocket;
  connectedAt = 0;
  ackedAt = 0;
  attempts = 0;
  private seq = 0;
  private stopped = false;
  constructor(
    private readonly port: number,
    private readonly ctx: SecureContext,
    private readonly tpl: FrameTemplate,
    private readonly onEvent: () => void,
  ) {}

  connect(): Promise<boolean> {
    this.attempts++;
    return new Promise((resolve) => {
      const ws = new WebSocket(`wss://127.0.0.1:${this.port}/`, {
        secureContext: this.ctx,
        perMessageDeflate: false,
        handshakeTimeout: 30_000,
      } as WebSocket.ClientOptions);
      const resp = { kind: 0, seq: -1 };
      let open = false;
      ws.once('open', () => {
        open = true;
        this.ws = ws;
        this.connectedAt = Date.now();
        ws.send(this.tpl.frame(this.seq++), { binary: true });
        this.onEvent();
        resolve(true);
      });
      ws.on('message', (b: Buffer) => {
        readResponse(b, resp);
        if (resp.kind === RESPONSE_ACK && resp.seq === this.seq - 1 && !this.ackedAt) {
          this.ackedAt = Date.now();
          this.onEvent();
        }
      });
      ws.on('error', () => {
        if (!open) resolve(false);
      });
      ws.on('close', () => {
        if (!open) return resolve(false);
        if (!this.stopped) void this.reconnect();
      });
    });
  }

  /** After the server went away: wait a random share of the jitter, then try until connected. */
  async reconnect(): Promise<void> {
    this.connectedAt = 0;
    this.ackedAt = 0;
    await sleep(Math.random() * flags['jitter-ms']!);
    while (!this.stopped && !(await this.connect())) await sleep(flags['retry-ms']! + Math.random() * flags['jitter-ms']!);
  }

  stop(): void {
    this.stopped = true;
    this.ws?.terminate();
  }
}

interface StormResult {
  workers: number;
  vehicles: number;
  firstConnectS: number;
  restartS: number;
  allConnectedS: number;
  allAckedS: number;
  p50AckedS: number;
  attempts: number;
  complete: boolean;
}

async function storm(
  dir: string,
  pki: Awaited<ReturnType<typeof makePki>>,
  contexts: SecureContext[],
  vins: string[],
  n: number,
  workers: number,
  brokerUrl: string,
): Promise<StormResult> {
  const port = await freePort();
  const config = {
    log_level: 'warn',
    workers,
    records: { V: ['mqtt'] },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
    mqtt: { broker: brokerUrl, topic_base: 'storm', qos: 1 },
  };
  let server: BenchServer = await launchServer(dir, config, { port });
  let done = 0;
  const vehicles = Array.from(
    { length: n },
    (_, i) => new Vehicle(port, contexts[i % contexts.length], new FrameTemplate(vins[i % vins.length], i, 5), () => done++),
  );
  const t0 = Date.now();
  for (let i = 0; i < n; i += flags.batch!) {
    const part = vehicles.slice(i, i + flags.batch!);
    const ok = await Promise.all(part.map((v) => v.connect()));
    // A refused first connection (an overloaded accept queue) is retried like a reconnect.
    part.forEach((v, k) => ok[k] || void v.reconnect());
  }
  await waitUntilAll(vehicles, (v) => v.ackedAt > 0, flags['max-seconds']! * 1000);
  const firstConnectS = (Date.now() - t0) / 1000;
  log(`  workers ${workers}: ${int(n)} vehicles connected and acked in ${fix(firstConnectS, 1)} s; kill -9 and restart`);

  const attempts0 = vehicles.reduce((a, v) => a + v.attempts, 0);
  const killedAt = Date.now();
  await server.kill();
  server = await launchServer(dir, config, { port });
  await waitForPort(port, 30_000);
  const restartS = (Date.now() - killedAt) / 1000;
  const complete = await waitUntilAll(vehicles, (v) => v.ackedAt > killedAt, flags['max-seconds']! * 1000);
  const connected = vehicles.map((v) => v.connectedAt - killedAt).filter((x) => x > 0);
  const acked = vehicles
    .map((v) => v.ackedAt - killedAt)
    .filter((x) => x > 0)
    .sort((a, b) => a - b);
  const result: StormResult = {
    workers,
    vehicles: n,
    firstConnectS,
    restartS,
    allConnectedS: connected.length === n ? Math.max(...connected) / 1000 : NaN,
    allAckedS: acked.length === n ? acked[n - 1] / 1000 : NaN,
    p50AckedS: acked.length ? acked[Math.floor(acked.length / 2)] / 1000 : NaN,
    attempts: vehicles.reduce((a, v) => a + v.attempts, 0) - attempts0,
    complete,
  };
  vehicles.forEach((v) => v.stop());
  void done;
  await server.stop();
  return result;
}

async function waitUntilAll(vs: Vehicle[], pred: (v: Vehicle) => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (vs.every(pred)) return true;
    await sleep(100);
  }
  return false;
}

async function main(): Promise<void> {
  const load0 = loadavg();
  const fd = fdLimits();
  // The bench holds one fd per vehicle, the server (same limits) one more each.
  let n = flags.vehicles!;
  const notes: string[] = [];
  if (fd.soft - 300 < n) {
    notes.push(`ulimit -n ${fd.soft} caps the run at ${fd.soft - 300} vehicles (make bench-storm raises the soft limit to the hard one)`);
    n = Math.max(1, fd.soft - 300);
  }
  const dir = trackDir(mkdtempSync(join(tmpdir(), 'ft-storm-')));
  const pki = await makePki(join(dir, 'pki'));
  const nCerts = Math.min(flags.certs!, n);
  const vins = Array.from({ length: nCerts }, (_, i) => `5YJ3STORM${String(i).padStart(8, '0')}`);
  const certs = [];
  for (let i = 0; i < vins.length; i += 50) certs.push(...(await Promise.all(vins.slice(i, i + 50).map((v) => pki.vehicle(v)))));
  const contexts = certs.map((c) => createSecureContext({ cert: c.certPem, key: c.keyPem, ca: pki.ca.certPem }));
  const broker = await startBroker(dir, ['max_connections -1']);
  log(`bench-storm: ${int(n)} vehicles, workers ${workerRuns.join(' then ')}, reconnect jitter 0–${flags['jitter-ms']} ms`);
  const results: StormResult[] = [];
  for (const w of workerRuns) results.push(await storm(dir, pki, contexts, vins, n, w, broker.url));
  await broker.stop();

  const row = (r: StormResult) =>
    `| ${r.workers} | ${int(r.vehicles)} | ${fix(r.restartS, 2)} | ${fix(r.allConnectedS, 1)} | ${fix(r.p50AckedS, 1)} | ${fix(r.allAckedS, 1)} | ${int(r.attempts)} |${r.complete ? '' : ' incomplete'}`;
  console.log(
    [
      '',
      `bench-storm — node ${process.version}, ${cpus().length} cores, load average at start ${load0.map((l) => l.toFixed(2)).join(' ')}; the vehicles, mosquitto and the server share the machine`,
      '',
      '| workers | vehicles | restart to listening (s) | all reconnected (s) | half acked (s) | all acked (s) | connection attempts |',
      '|---|---|---|---|---|---|---|',
      ...results.map(row),
      '',
      'times from the kill -9 of the server; each vehicle reconnects after a random delay within the jitter and sends one frame (QoS 1 to mosquitto)',
      ...notes.map((x) => `note: ${x}`),
    ].join('\n'),
  );
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    log(`bench-storm failed: ${err.stack ?? err.message}`);
    process.exit(1);
  },
);
