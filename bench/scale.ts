/**
 * make bench-scale: as many connected mTLS vehicles as this machine allows (up to
 * --connections), opened in batches, each sending one frame a minute, staggered. Reports the
 * server's RSS per connection, handshakes per second and failures. Bounded by --max-seconds.
 */
import { mkdtempSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import WebSocket from 'ws';
import { makePki } from '../test/helpers/pki.js';
import { repoRoot } from '../test/helpers/server.js';
import { flagsOrExit, type FlagSpec } from './lib/args.js';
import { startBroker } from './lib/broker.js';
import { deadlineExit, trackDir } from './lib/cleanup.js';
import { FrameTemplate, readResponse, RESPONSE_ACK } from './lib/frames.js';
import { sleep } from './lib/net.js';
import { cpuSeconds, fdLimits, machineBusySeconds, peakRssKb, rssKb } from './lib/proc.js';
import { fix, int, ms, saveJson } from './lib/report.js';
import { launchServer } from './lib/server.js';
import { Latencies, percentiles } from './lib/stats.js';

const SPEC = {
  connections: {
    type: 'number',
    default: 10_000,
    min: 1,
    max: 100_000,
    int: true,
    help: 'vehicles to connect (fewer when the fd limit or time does not allow)',
  },
  batch: { type: 'number', default: 100, min: 1, max: 5000, int: true, help: 'connections opened at once' },
  certs: { type: 'number', default: 200, min: 1, max: 10_000, int: true, help: 'distinct vehicle certificates (VINs), shared round-robin' },
  interval: { type: 'number', default: 60, min: 1, max: 600, help: "seconds between one vehicle's frames" },
  hold: { type: 'number', default: 30, min: 0, max: 600, help: 'seconds to stay connected after the last connection opened' },
  'max-seconds': { type: 'number', default: 120, min: 10, max: 1800, help: 'bound on connecting + holding' },
  fields: { type: 'number', default: 20, min: 1, int: true, help: 'fields per frame' },
  qos: { type: 'number', default: 1, min: 0, max: 2, int: true, help: "QoS of the server's publishes" },
  'connect-timeout-ms': { type: 'number', default: 20_000, min: 100, help: 'one connection attempt (TCP + TLS + upgrade)' },
  help: { type: 'bool', default: false, help: 'this text' },
} satisfies Record<string, FlagSpec>;

const TITLE = 'usage: node build/bench/scale.js [flags]   (make bench-scale)';
const flags = flagsOrExit(process.argv.slice(2), SPEC, TITLE);

const log = (s: string) => process.stderr.write(s + '\n');
const MAX_S = flags['max-seconds']!;
const INTERVAL_MS = flags.interval! * 1000;
// Set-up (certificates, server) and shutdown come on top of the bounded run.
deadlineExit((MAX_S + 90) * 1000, 'bench-scale');

interface Car {
  ws?: WebSocket;
  tpl: FrameTemplate;
  seq: number;
  sentAt: number;
  waiting: boolean;
}

async function main(): Promise<void> {
  const started = Date.now();
  const load0 = loadavg();
  const notes: string[] = [];
  // Both this process (clients) and the server (which inherits these limits) need one fd per connection.
  const fd = fdLimits();
  let wanted = flags.connections!;
  const fdRoom = fd.soft - 200;
  if (fdRoom < wanted) {
    notes.push(
      `ulimit -n is ${fd.soft} (hard ${fd.hard}): the file-descriptor limit caps this run at ${Math.max(0, fdRoom)} connections; raise it (make bench-scale raises the soft limit to the hard one) for more`,
    );
    wanted = Math.max(0, fdRoom);
  } else notes.push(`ulimit -n is ${fd.soft} (hard ${fd.hard}): not limiting ${wanted} connections`);
  log(`bench-scale: up to ${int(wanted)} vehicles, batches of ${flags.batch}, one frame per ${flags.interval} s each; ${notes[0]}`);

  const dir = trackDir(mkdtempSync(join(tmpdir(), 'ft-scale-')));
  const pki = await makePki(join(dir, 'pki'));
  const nCerts = Math.min(flags.certs!, wanted);
  const vins = Array.from({ length: nCerts }, (_, i) => `5YJ3SCALE${String(i).padStart(8, '0')}`);
  const t0 = performance.now();
  const certs = [];
  for (let i = 0; i < vins.length; i += 50) certs.push(...(await Promise.all(vins.slice(i, i + 50).map((v) => pki.vehicle(v)))));
  log(`${nCerts} vehicle certificates in ${fix((performance.now() - t0) / 1000, 1)} s`);
  // One secure context per certificate, built once: the clients' PEM parsing stays out of the handshake rate.
  const contexts: SecureContext[] = certs.map((c) => createSecureContext({ cert: c.certPem, key: c.keyPem, ca: pki.ca.certPem }));

  const broker = await startBroker(dir);
  const server = await launchServer(dir, {
    log_level: 'warn',
    records: { V: ['mqtt'] },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
    mqtt: { broker: broker.url, topic_base: 'scale', qos: flags.qos },
  });
  await sleep(500);
  const rss0 = rssKb(server.pid);
  log(`server pid ${server.pid}: RSS ${fix(rss0 / 1024, 0)} MB with no vehicle`);

  const cars: Car[] = [];
  const lat = new Latencies();
  const c = { sent: 0, acked: 0, errors: 0, unanswered: 0, closedByServer: 0 };
  const failures = new Map<string, number>();
  const resp = { kind: 0, seq: -1 };
  let stopping = false;

  const open = (i: number): Promise<void> =>
    new Promise((resolve) => {
      const car: Car = { tpl: new FrameTemplate(vins[i % nCerts], i, flags.fields!), seq: 0, sentAt: 0, waiting: false };
      const ws = new WebSocket(`wss://127.0.0.1:${server.port}/`, {
        secureContext: contexts[i % nCerts],
        perMessageDeflate: false,
        handshakeTimeout: flags['connect-timeout-ms'],
      } as WebSocket.ClientOptions);
      let settled = false;
      ws.once('open', () => {
        settled = true;
        car.ws = ws;
        cars.push(car);
        resolve();
      });
      ws.on('error', (err: NodeJS.ErrnoException) => {
        if (settled) return;
        settled = true;
        const why = err.code ?? err.message.slice(0, 60);
        failures.set(why, (failures.get(why) ?? 0) + 1);
        resolve();
      });
      ws.on('message', (buf: Buffer) => {
        readResponse(buf, resp);
        if (car.waiting && resp.seq === car.seq - 1) {
          car.waiting = false;
          if (resp.kind === RESPONSE_ACK) {
            c.acked++;
            lat.push(performance.now() - car.sentAt);
          } else c.errors++;
        }
      });
      ws.on('close', () => {
        if (settled && !stopping) c.closedByServer++;
      });
    });

  // One frame a minute per vehicle, staggered: vehicle k sends in tick k mod (ticks per interval).
  const TICK_MS = 100;
  const ticks = Math.max(1, Math.round(INTERVAL_MS / TICK_MS));
  let tick = 0;
  const sender = setInterval(() => {
    const slot = tick++ % ticks;
    for (let k = slot; k < cars.length; k += ticks) {
      const car = cars[k];
      if (car.waiting) c.unanswered++; // its previous frame got nothing in a whole interval
      car.waiting = true;
      car.sentAt = performance.now();
      c.sent++;
      car.ws!.send(car.tpl.frame(car.seq++), { binary: true });
    }
  }, TICK_MS);

  // Connect in batches until the count, or the time share for connecting, is reached.
  const connectBudgetMs = Math.max(5000, (MAX_S - flags.hold!) * 1000);
  const cpu0 = cpuSeconds(server.pid);
  const self0 = cpuSeconds(process.pid);
  const mosq0 = cpuSeconds(broker.pid);
  const busy0 = machineBusySeconds();
  const tc0 = performance.now();
  let attempted = 0;
  let lastReport = tc0;
  while (attempted < wanted && performance.now() - tc0 < connectBudgetMs) {
    const n = Math.min(flags.batch!, wanted - attempted);
    await Promise.all(Array.from({ length: n }, (_, k) => open(attempted + k)));
    attempted += n;
    if (performance.now() - lastReport > 5000) {
      lastReport = performance.now();
      log(
        `  ${int(cars.length)} connected, ${int(attempted - cars.length)} failed, ${fix((performance.now() - tc0) / 1000, 1)} s, server RSS ${fix(rssKb(server.pid) / 1024, 0)} MB`,
      );
    }
  }
  const connectS = (performance.now() - tc0) / 1000;
  const connectCpu = cpuSeconds(server.pid) - cpu0;
  const clientCpu = cpuSeconds(process.pid) - self0;
  const otherCpu = machineBusySeconds() - busy0 - connectCpu - clientCpu - (cpuSeconds(broker.pid) - mosq0);
  if (attempted < wanted)
    notes.push(`stopped connecting after ${fix(connectS, 0)} s (the --max-seconds share for connecting): ${int(attempted)} of ${int(wanted)} attempted`);
  const rssConnected = rssKb(server.pid);
  // Acks of connected vehicles while handshakes occupy the server, apart from the quiet hold.
  const latConnect = percentiles(lat.take());
  log(
    `${int(cars.length)} connected in ${fix(connectS, 1)} s (${int(cars.length / connectS)} handshakes/s), ${int(attempted - cars.length)} failed; holding ${flags.hold} s`,
  );

  // Hold: frames keep trickling in; RSS settles.
  const holdMs = Math.min(flags.hold! * 1000, Math.max(0, MAX_S * 1000 - (performance.now() - tc0)));
  let rssPeak = rssConnected;
  const th0 = performance.now();
  const cpuH0 = cpuSeconds(server.pid);
  while (performance.now() - th0 < holdMs) {
    await sleep(Math.min(1000, holdMs - (performance.now() - th0)));
    rssPeak = Math.max(rssPeak, rssKb(server.pid));
  }
  const holdS = (performance.now() - th0) / 1000;
  const holdCpu = cpuSeconds(server.pid) - cpuH0;
  clearInterval(sender);
  await sleep(1000); // answers to the last frames
  const rssEnd = rssKb(server.pid);
  const hwm = peakRssKb(server.pid);
  const open_ = cars.filter((x) => x.ws!.readyState === WebSocket.OPEN).length;
  const pending = cars.filter((x) => x.waiting).length;
  const latency = percentiles(lat.take());

  stopping = true;
  const alive = server.alive();
  const events = Object.fromEntries(server.events);
  for (const car of cars) car.ws!.terminate();
  await server.stop();
  await broker.stop();

  const connected = cars.length;
  const perConnKb = connected ? (rssEnd - rss0) / connected : NaN;
  const failed = attempted - connected;
  const row = (label: string, value: string) => `${label.padEnd(48)} ${value}`;
  const lines = [
    '',
    `bench-scale — node ${process.version}, ${cpus().length} cores, load average at start ${load0.map((l) => l.toFixed(2)).join(' ')}`,
    '',
    row(
      'connections asked / attempted / open / failed',
      `${int(flags.connections)} / ${int(attempted)} / ${int(connected)} / ${int(failed)}${failures.size ? ` (${[...failures].map(([k, v]) => `${k} ×${v}`).join(', ')})` : ''}`,
    ),
    row('handshakes per second (mTLS + WS upgrade)', `${int(connected / connectS)} (${int(connected)} in ${fix(connectS, 1)} s, batches of ${flags.batch})`),
    row(
      'server CPU per handshake',
      `${fix((connectCpu * 1000) / Math.max(1, connected), 2)} ms (${fix((100 * connectCpu) / connectS, 0)}% of a core while connecting)`,
    ),
    row(
      'bench (client side) CPU while connecting',
      `${fix((100 * clientCpu) / connectS, 0)}% of a core (${fix((clientCpu * 1000) / Math.max(1, connected), 2)} ms per handshake); other processes ${fix(Math.max(0, (100 * otherCpu) / connectS), 0)}%`,
    ),
    row(
      'server RSS: none / all connected / end / peak',
      `${fix(rss0 / 1024, 0)} / ${fix(rssConnected / 1024, 0)} / ${fix(rssEnd / 1024, 0)} / ${fix(Math.max(rssPeak, hwm) / 1024, 0)} MB`,
    ),
    row('server RSS per connection', `${fix(perConnKb, 1)} kB ((end − none) ÷ open connections)`),
    row(`server CPU while holding (${fix(holdS, 0)} s)`, `${fix((100 * holdCpu) / Math.max(holdS, 0.001), 1)}% of a core`),
    row('frames sent / acked / errors / unanswered', `${int(c.sent)} / ${int(c.acked)} / ${int(c.errors)} / ${int(c.unanswered + pending)}`),
    row('ack p50 / p99 / max while connecting', `${ms(latConnect.p50)} / ${ms(latConnect.p99)} / ${ms(latConnect.max)} ms (${int(latConnect.count)} frames)`),
    row('ack p50 / p99 / max while holding', `${ms(latency.p50)} / ${ms(latency.p99)} / ${ms(latency.max)} ms (${int(latency.count)} frames)`),
    row('connections still open at the end', `${int(open_)} (closed by the server meanwhile: ${int(c.closedByServer)})`),
    ...notes.map((n) => `note: ${n}`),
  ];
  if (!alive) lines.push(`the server exited during the run: ${server.stderrTail().slice(-500)}`);
  const shutdownEvents = Object.fromEntries([...server.events].map(([e, n]) => [e, n - (events[e] ?? 0)]).filter(([, n]) => (n as number) > 0));
  const list = (o: Record<string, number>) =>
    Object.keys(o).length
      ? Object.entries(o)
          .map(([e, n]) => `${e} ×${n}`)
          .join(', ')
      : 'none';
  lines.push(`server log events (warn+) during the run: ${list(events)}; at shutdown: ${list(shutdownEvents)}`);
  console.log(lines.join('\n'));

  const file = saveJson(
    join(repoRoot(), 'bench', 'results'),
    'scale',
    {
      bench: 'scale',
      date: new Date().toISOString(),
      elapsedS: Math.round((Date.now() - started) / 1000),
      machine: { node: process.version, cores: cpus().length, cpu: cpus()[0]?.model, loadavgStart: load0, loadavgEnd: loadavg() },
      settings: flags,
      fdLimit: fd,
      connections: {
        asked: flags.connections,
        attempted,
        open: connected,
        failed,
        failures: Object.fromEntries(failures),
        stillOpenAtEnd: open_,
        closedByServer: c.closedByServer,
      },
      handshakesPerSecond: connected / connectS,
      connectSeconds: connectS,
      serverCpuMsPerHandshake: (connectCpu * 1000) / Math.max(1, connected),
      serverCpuPercentHolding: (100 * holdCpu) / Math.max(holdS, 0.001),
      rssMb: { none: rss0 / 1024, connected: rssConnected / 1024, end: rssEnd / 1024, peak: Math.max(rssPeak, hwm) / 1024 },
      rssPerConnectionKb: perConnKb,
      frames: { sent: c.sent, acked: c.acked, errors: c.errors, unanswered: c.unanswered + pending },
      ackLatencyMs: { connecting: latConnect, holding: latency },
      serverEvents: events,
      serverEventsAtShutdown: shutdownEvents,
      clientCpuMsPerHandshake: (clientCpu * 1000) / Math.max(1, connected),
      otherProcessesCpuPercentConnecting: (100 * otherCpu) / connectS,
      notes,
    },
    'latest-scale.json',
  );
  log(`\nwrote ${file} (and latest-scale.json) in ${Math.round((Date.now() - started) / 1000)} s`);
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    log(`bench-scale failed: ${err.stack ?? err.message}`);
    process.exit(1);
  },
);
