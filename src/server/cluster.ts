import cluster, { type Worker } from 'node:cluster';
import { createServer, type AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { AggregatorRegistry, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import type { Config } from '../config/types.js';
import type { Readiness, VehicleView } from '../ops/metrics.js';
import { fleetAccessFromConfig } from '../ops/access/from-config.js';
import { startMonitor, type MonitorServer, type MonitorSource } from '../ops/monitor.js';
import { MergedFleet } from '../ops/fleet/merged.js';
import { clientIdFrom } from '../producers/mqtt/options.js';
import { bindError, StartError } from './start-error.js';
import { checkConfigAndTls, startBrokerIfEmbedded } from './run.js';
import { appKeyAtStart, startKeyPageIfConfigured } from './key-page.js';
import { startStatusServer, type StatusServer } from './status.js';
import { serverTlsMaterial } from './tls.js';
import { workerConfig, type FromWorker, type PresenceNote, type Question, type ToWorker } from './worker.js';
import { PresenceTracker } from './presence/tracker.js';
import { oneRowPerVehicle } from '../ops/vehicle-rows.js';
import { PresenceNotPublished, type CloseOutcome } from './presence/port.js';
import { InvalidRecord } from '../errors.js';
import type { Presence } from '../publish/presence.js';
import { vehiclesConnectedGauge, VEHICLES_CONNECTED } from '../ops/presence-metrics.js';
import { startTlsReloader } from './tls-reload.js';
import { Backoff } from '../backoff.js';

/** `workers` as configured: a number, or "auto" for the cores this process may use. */
export function workerCount(workers: number | 'auto'): number {
  return workers === 'auto' ? availableParallelism() : workers;
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (err) => reject(bindError(err, 'port', host, 0)));
    probe.listen(0, host, () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** A worker quicker to die than this after it started is restarted after a growing pause. */
const QUICK_DEATH_MS = 10_000;
const MAX_BACKOFF_MS = 30_000;
const ASK_TIMEOUT_MS = 2_000;

/** Worker k (1..N): the process serving it now, if any; k stays the same across its restarts. */
interface Slot {
  k: number;
  worker?: Worker;
  ready: boolean;
  startedAt: number;
  /** Restarts after quick deaths: 0.5 s doubling to 30 s; no jitter, a worker restarts alone. */
  restarts: Backoff;
}

/**
 * The primary of `workers: N`: checks like one server, owns the embedded broker, the monitoring
 * and status ports, then forks N workers that share the vehicle port (cluster, round-robin) and
 * each run their own producers. Resolves once every worker serves, or throws the first worker's
 * reason after stopping the others.
 */
export async function startPrimary(config: Config, logger: Logger, n: number): Promise<{ stop(): Promise<void>; reloadTls(trigger: string): boolean }> {
  checkConfigAndTls(config, logger);
  const appKey = appKeyAtStart(config, logger);
  let tlsCerts: number;
  let tls: ReturnType<typeof serverTlsMaterial>;
  try {
    tls = serverTlsMaterial(config);
    tlsCerts = tls.pool.certs.length;
    logger.info({ event: 'client_ca_pool', sources: tls.pool.sources }, `client-CA pool: ${tlsCerts} certificates`);
  } catch (err) {
    throw new StartError(`TLS material: ${(err as Error).message}`, { cause: err });
  }
  const undo: (() => unknown)[] = [];
  const unwind = async (err: unknown): Promise<never> => {
    for (const u of undo.reverse()) await Promise.resolve(u()).catch(() => {});
    throw err;
  };

  const broker = await startBrokerIfEmbedded(config, logger);
  if (broker) undo.push(() => broker.close());
  let stopping = false;
  const pool = new WorkerPool(config, logger, n, () => stopping);

  const monitoringPort = config.monitoring.prometheus_metrics_port;
  let monitor: MonitorServer | undefined;
  if (monitoringPort !== undefined) {
    // The fleet view over every worker: each answers the rows changed since its cursor.
    const view = new MergedFleet(
      (what, arg) => pool.ask(what, arg),
      () => pool.readiness(),
      n,
      config.monitoring.fleet_view.max_vehicles,
    );
    const allowed = fleetAccessFromConfig(config);
    if (!allowed.ok) await unwind(new StartError(allowed.message, { code: allowed.code, cause: allowed.cause }));
    const access = allowed.ok ? allowed.access : undefined;
    monitor = await startMonitor({ host: config.monitoring.host, port: monitoringPort, access, metrics: pool, logger, fleet: view }).catch((err) =>
      unwind(bindError(err, 'monitoring.prometheus_metrics_port', config.monitoring.host, monitoringPort)),
    );
    undo.push(() => monitor!.close());
    logger.info(
      { event: 'monitoring_listening', host: monitor.host, port: monitor.port },
      `monitoring listening on ${monitor.host}:${monitor.port} (/ fleet page, /metrics, /livez, /readyz, /vehicles, /api)`,
    );
  }
  let status: StatusServer | undefined;
  if (config.status_port !== undefined) {
    status = await startStatusServer({ host: config.host, port: config.status_port, readiness: () => pool.readiness(), stopping: () => stopping }).catch(
      unwind,
    );
    undo.push(() => status!.close());
  }

  const keyPage = await startKeyPageIfConfigured(config, appKey, tls, logger).catch(unwind);
  if (keyPage) undo.push(() => keyPage.close());

  const port = await pool.start().catch(unwind);
  logger.info(
    { event: 'listening', host: config.host, port, status_port: status?.port, workers: n },
    `vehicle server listening on ${config.host}:${port} (${n} workers)`,
  );
  // Judged once here, then handed to every worker: one error line for a broken file, not N.
  const reloader = startTlsReloader(config, tls, logger, (m) => {
    pool.broadcast({ ft: 'tls', cert: m.cert, key: m.key, ca: m.ca });
    keyPage?.setCertificate(m.cert, m.key);
  });
  let stopped: Promise<void> | undefined;
  return {
    reloadTls: (trigger) => reloader.reload(trigger),
    stop: () =>
      (stopped ??= (async () => {
        reloader.close();
        stopping = true;
        await pool.stop();
        status?.close();
        await keyPage?.close();
        await broker?.close();
        await monitor?.close();
      })()),
  };
}

/** The N workers: forking, restarting, asking them questions, stopping them. */
class WorkerPool implements MonitorSource {
  private readonly slots: Slot[];
  private readonly base: Config;
  private readonly clientId: string;
  private readonly answers = new Map<number, (v: unknown) => void>();
  private nextId = 1;
  readonly registry = { contentType: Registry.PROMETHEUS_CONTENT_TYPE as string, metrics: () => this.metricsText() };
  /** Presence over every worker: two connections of one vehicle may be on two workers. */
  private readonly presence: PresenceTracker;
  /** The primary's own series: vehicles counted once across workers. */
  private readonly own = new Registry();
  private presenceTurn = 0;

  constructor(
    config: Config,
    private readonly logger: Logger,
    n: number,
    private readonly stopping: () => boolean,
  ) {
    this.base = config;
    // One server's id, fixed now: with port 0 it names this (primary) process, not a worker.
    this.clientId = clientIdFrom(config);
    this.slots = Array.from({ length: n }, (_, i) => ({ k: i + 1, ready: false, startedAt: 0, restarts: new Backoff(500, MAX_BACKOFF_MS, Math.random, 0) }));
    this.presence = new PresenceTracker(
      { publish: (vin, p) => this.publishPresence(vin, p), closeIfIdle: (key, since) => this.closeIfIdle(key, since) },
      {
        graceMs: config.presence.close_older_after_ms,
        onPublishFailed: (vin, err) =>
          logger.debug({ event: 'presence_not_published', vin, err: (err as Error).message }, 'presence not published; tried again'),
      },
    );
    vehiclesConnectedGauge(this.own, () => this.presence.vehicles);
  }

  private notePresence(n: PresenceNote, s: Slot): void {
    switch (n.ev) {
      case 'opened':
        return void this.presence.opened(n.key, n.vin).then(() => this.tell(s, n.id));
      case 'active':
        return this.presence.active(n.key);
      case 'closed':
        return this.presence.closed(n.key);
      case 'suspect':
        return this.presence.suspect(n.vin, n.afterMs);
      case 'flush':
        return void this.presence.flush(n.ms).then(() => this.tell(s, n.id));
    }
  }

  private tell(s: Slot, id: number): void {
    const w = s.worker;
    if (w?.isConnected()) w.send({ ft: 'done', id } satisfies ToWorker);
  }

  /** Through one serving worker's producers, a different one after each failure. */
  private async publishPresence(vin: string, p: Presence): Promise<void> {
    const ready = this.slots.filter((s) => s.ready && s.worker?.isConnected());
    if (ready.length === 0) throw new PresenceNotPublished('no worker is serving');
    const s = ready[this.presenceTurn % ready.length];
    const got = await this.askOne<{ ok: boolean; error?: string; permanent?: boolean }>(
      s,
      'presence',
      { vin, presence: p },
      this.base.mqtt.publish_timeout_ms + ASK_TIMEOUT_MS,
    );
    if (got?.ok) return;
    this.presenceTurn++;
    const why = got?.error ?? `worker ${s.k} did not answer`;
    // The worker's error crossed a process boundary as text; its permanence picks the type again.
    throw got?.permanent === true ? new InvalidRecord(why) : new PresenceNotPublished(why);
  }

  /** Key `<k>/<pid>/<n>`: asks worker k, if the same process still serves it. */
  private async closeIfIdle(key: string, since: number): Promise<CloseOutcome> {
    const [k, pid] = key.split('/').map(Number);
    const s = this.slots[k - 1];
    if (!s || s.worker?.process.pid !== pid) return 'gone';
    return (await this.askOne<CloseOutcome>(s, 'close_older', { key, since }, ASK_TIMEOUT_MS)) ?? 'gone';
  }

  /** A message to every worker serving now (a restarted one reads the files itself). */
  broadcast(msg: ToWorker): void {
    for (const s of this.slots) if (s.ready && s.worker?.isConnected()) s.worker.send(msg);
  }

  /** Forks every worker; resolves with the shared vehicle port once all serve. */
  async start(): Promise<number> {
    // Linux's default hands each connection to whichever worker accepts first, which piles
    // vehicles on one; round-robin spreads them. It must be set before the first fork.
    cluster.schedulingPolicy = cluster.SCHED_RR;
    cluster.setupPrimary({ exec: fileURLToPath(new URL('./worker-main.js', import.meta.url)), args: [], serialization: 'advanced' });
    // cluster shares a listening socket by the port asked for: a worker restarted with the
    // number port 0 turned into would not find the socket of "port 0" and fail on its own port.
    // So port 0 becomes a number first (free a moment ago), and every worker asks for that one.
    if (this.base.port === 0) this.base.port = await freePort(this.base.host);
    const started = this.slots.map((s) => this.fork(s));
    const results = await Promise.allSettled(started);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await this.stop();
      throw failed.reason;
    }
    const ports = new Set(results.map((r) => (r as PromiseFulfilledResult<number>).value));
    if (ports.size !== 1) {
      await this.stop();
      throw new StartError(`workers listen on different ports (${[...ports].join(', ')}); set port to a fixed number`);
    }
    this.restarting = true;
    return [...ports][0];
  }

  /** Starts slot s; resolves with its port when it serves, rejects with its reason when it cannot. */
  private fork(s: Slot): Promise<number> {
    const worker = cluster.fork();
    s.worker = worker;
    s.ready = false;
    s.startedAt = Date.now();
    return new Promise<number>((resolve, reject) => {
      let failure: string | undefined;
      worker.on('message', (msg: FromWorker) => {
        if (msg.ft === 'hello')
          worker.send({ ft: 'start', config: workerConfig(this.base, s.k, this.clientId, this.slots.length), index: s.k } satisfies ToWorker);
        else if (msg.ft === 'ready') {
          s.ready = true;
          this.logger.info(
            { event: 'worker_started', worker: s.k, pid: worker.process.pid, port: msg.port },
            `worker ${s.k} serving (pid ${worker.process.pid})`,
          );
          resolve(msg.port);
        } else if (msg.ft === 'failed') failure = msg.reason;
        else if (msg.ft === 'answer') this.answers.get(msg.id)?.(msg.value);
        else if (msg.ft === 'presence') this.notePresence(msg, s);
      });
      worker.on('exit', (code, signal) => {
        // Its vehicles are gone with it (they reconnect, maybe to another worker).
        this.presence.ownerGone(`${s.k}/${worker.process.pid}`);
        const wasReady = s.ready;
        s.ready = false;
        if (s.worker === worker) s.worker = undefined;
        reject(new StartError(failure ?? `worker ${s.k} exited (${signal ?? `code ${code}`}) before it was serving`));
        // A worker that never served, while the others start, fails the start (start() reports
        // it); one that served is replaced, also if it died before the others were up.
        if (this.closed || this.stopping() || (!this.restarting && !wasReady)) return;
        this.restart(s, code, signal, failure, wasReady);
      });
    });
  }

  /** Set once every worker has served: from then on a dead worker is restarted instead of failing the start. */
  private restarting = false;
  /** Set by stop(): nothing is forked any more. */
  private closed = false;

  private restart(s: Slot, code: number | null, signal: string | null, failure: string | undefined, served: boolean): void {
    const quick = !served || Date.now() - s.startedAt < QUICK_DEATH_MS;
    if (!quick) s.restarts.reset();
    const waitMs = quick ? s.restarts.next() : 0;
    this.logger.warn(
      { event: 'worker_exited', worker: s.k, code, signal, reason: failure, restart_in_ms: waitMs },
      `worker ${s.k} exited (${signal ?? `code ${code}`}); restarting${waitMs ? ` in ${waitMs} ms` : ''}`,
    );
    setTimeout(() => {
      if (!this.closed && !this.stopping()) this.fork(s).catch(() => {});
    }, waitMs).unref();
  }

  /** Asks every serving worker (worker k with `arg(k)`); a worker that does not answer in time (or is down) gives undefined. */
  async ask<T>(what: Question, arg?: (k: number) => unknown): Promise<{ k: number; value: T | undefined }[]> {
    return Promise.all(this.slots.map(async (s) => ({ k: s.k, value: await this.askOne<T>(s, what, arg?.(s.k), ASK_TIMEOUT_MS) })));
  }

  private async askOne<T>(s: Slot, what: Question, arg: unknown, timeoutMs: number): Promise<T | undefined> {
    const w = s.worker;
    if (!w || !s.ready || !w.isConnected()) return undefined;
    const id = this.nextId++;
    const value = await new Promise<T | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), timeoutMs);
      this.answers.set(id, (v) => {
        clearTimeout(timer);
        resolve(v as T | undefined);
      });
      w.send({ ft: 'ask', id, what, arg } satisfies ToWorker, (err: Error | null) => err && resolve(undefined));
    });
    this.answers.delete(id);
    return value;
  }

  /** prom-client's cluster aggregation over the workers' registries: counters and gauges summed. */
  private async metricsText(): Promise<string> {
    const got = await this.ask<MetricObjectWithValues<MetricValue<string>>[]>('metrics');
    // Each worker counts the vehicles it serves; one on two workers is one vehicle: the primary's count.
    const workers = got.flatMap((g) => (g.value ? [g.value.filter((m) => m.name !== VEHICLES_CONNECTED)] : []));
    return Registry.merge([AggregatorRegistry.aggregate(workers), this.own]).metrics();
  }

  async vehicles(): Promise<VehicleView[]> {
    const got = await this.ask<VehicleView[]>('vehicles');
    return oneRowPerVehicle(got.flatMap((g) => (g.value ?? []).map((v) => ({ ...v, worker: g.k }))));
  }

  /** Ready only when every worker is serving and says it is ready. */
  async readiness(): Promise<Readiness> {
    const got = await this.ask<Readiness>('readiness');
    const producers: Record<string, boolean> = {};
    let reason: string | undefined;
    for (const { k, value } of got) {
      if (!value) reason ??= `worker ${k} is not serving`;
      else {
        for (const [name, ok] of Object.entries(value.producers)) producers[name] = (producers[name] ?? true) && ok;
        if (!value.ready) reason ??= `worker ${k}: ${value.reason ?? 'not ready'}`;
      }
    }
    if (this.stopping()) return { ready: false, producers, reason: 'shutting down' };
    return reason === undefined ? { ready: true, producers } : { ready: false, producers, reason };
  }

  /** Every worker drains as one server does (in-flight frames, 1001 closes, offline status), then exits. */
  async stop(): Promise<void> {
    this.closed = true;
    const deadline = this.base.mqtt.publish_timeout_ms + 8_000;
    await Promise.all(
      this.slots.map(async (s) => {
        const w = s.worker;
        if (!w || w.isDead()) return;
        const exited = new Promise<void>((r) => w.once('exit', () => r()));
        // A worker still loading may not listen to messages yet; a signal reaches it either way.
        if (s.ready && w.isConnected()) w.send({ ft: 'stop' } satisfies ToWorker);
        else w.process.kill('SIGTERM');
        const timer = setTimeout(() => w.process.kill('SIGKILL'), deadline);
        await exited;
        clearTimeout(timer);
      }),
    );
    this.presence.stop();
  }
}
