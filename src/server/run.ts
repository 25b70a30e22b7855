import type { Logger } from 'pino';
import { startEmbeddedBroker, type EmbeddedBroker } from '../broker/embedded.js';
import type { Config } from '../config/types.js';
import { createLogger } from '../ops/log.js';
import { ServerMetrics } from '../ops/metrics.js';
import { fleetAccessFromConfig } from '../ops/access/from-config.js';
import { startMonitor, type MonitorServer } from '../ops/monitor.js';
import { createProducers } from '../producers/registry.js';
import type { Producer } from '../producers/types.js';
import { Dispatcher } from './dispatch.js';
import { InflightGate } from './gate.js';
import { noEvents, type ServerEvents } from './events.js';
import { startVehicleServer, type VehicleServer } from './listener.js';
import { serverTlsMaterial, type ServerTlsMaterial } from './tls.js';
import { checkAtStart } from '../tls/check.js';
import { bindError, StartError } from './start-error.js';
import { readinessOf } from '../ops/readiness.js';
import { FleetStore } from '../ops/fleet/store.js';
import { appKeyAtStart, startKeyPageIfConfigured } from './key-page.js';
import type { PublicKeyPage } from '../tesla/key-page.js';
import { startTlsReloader } from './tls-reload.js';
import { LocalFleet } from '../ops/fleet/local.js';
import { presencePublisher } from '../producers/presence.js';
import type { PresenceCorrections } from '../producers/presence.js';
import type { Presence } from '../publish/presence.js';
import type { PresencePort } from './presence/port.js';
import { PresenceTracker } from './presence/tracker.js';

export interface RunningServer {
  server: VehicleServer;
  broker?: EmbeddedBroker;
  producers: Map<string, Producer>;
  logger: Logger;
  metrics?: ServerMetrics;
  monitor?: MonitorServer;
  /** Publishes a vehicle's presence through the producers (the primary asks a worker to). */
  publishPresence(vin: string, p: Presence): Promise<void>;
  keyPage?: PublicKeyPage;
  /** Reads the TLS files again (SIGHUP); a worker's are set by its primary instead. */
  reloadTls(trigger: string): boolean;
  stop(): Promise<void>;
}

export interface StartOptions {
  /**
   * This process is worker k of several (see cluster.ts): the primary has checked the config and
   * TLS and owns the embedded broker, the monitoring port and the status port, so a worker starts
   * only its producers and the vehicle server, and keeps its metrics for the primary to ask.
   */
  worker?: number;
  /** With workers: presence is the primary's, which sees every worker's connections (see worker.ts). */
  presence?: PresencePort & PresenceCorrections;
}

/** Everything `serve` starts, in order; each step's failure is reported before any socket opens. */
export async function startAll(config: Config, logger: Logger, opts: StartOptions = {}): Promise<RunningServer> {
  const worker = opts.worker !== undefined;
  if (!worker) checkConfigAndTls(config, logger);
  // Workers serve vehicles only; the primary (or the one process) serves the key page.
  const appKey = worker ? undefined : appKeyAtStart(config, logger);
  let tls: ServerTlsMaterial;
  try {
    tls = serverTlsMaterial(config);
  } catch (err) {
    throw new StartError(`TLS material: ${(err as Error).message}`, { cause: err });
  }
  if (!worker) logger.info({ event: 'client_ca_pool', sources: tls.pool.sources }, `client-CA pool: ${tls.pool.certs.length} certificates`);

  // All or nothing: what has started is undone, in reverse, when a later step fails; nothing
  // talks to the broker or takes a vehicle before every listener is bound.
  const undo: (() => Promise<unknown>)[] = [];
  const unwind = async (err: unknown): Promise<never> => {
    for (const u of undo.reverse()) await u().catch(() => {});
    throw err;
  };

  const broker = worker ? undefined : await startBrokerIfEmbedded(config, logger);
  if (broker) undo.push(() => broker.close());
  // Metrics are made after the producers (they count them), so derived records (a plugin's trip
  // score) reach the fleet view through this late binding.
  let derivedSink: ((vin: string, name: string, value: unknown) => void) | undefined;
  let tracker: PresenceTracker | undefined;
  const presence = opts.presence;
  const producers = await createProducers(config, logger, {
    onDerived: (vin, name, value) => derivedSink?.(vin, name, value),
    presenceCorrections: () => presence ?? tracker,
  }).catch(unwind);
  undo.push(() => Promise.all([...producers.values()].map((p) => p.close())));
  let stopping: Promise<void> | undefined;
  // Without a monitoring port nobody could read the metrics: the server keeps noEvents.
  const monitoringPort = config.monitoring.prometheus_metrics_port;
  const serveMonitor = monitoringPort !== undefined && !worker;
  const metrics =
    monitoringPort === undefined
      ? undefined
      : new ServerMetrics({
          producers,
          trackedVins: config.vins_signal_tracking_enabled,
          accepting: () => stopping === undefined,
          fleet: new FleetStore(config.monitoring.fleet_view),
        });
  const events: ServerEvents = metrics ?? noEvents;
  if (metrics) derivedSink = (vin, name, value) => metrics.noteDerived(vin, name, value);
  // Producers keep their own publish deadline; this guard only catches one that never settles.
  const dispatcher = new Dispatcher(
    config.records,
    producers,
    Math.max(config.mqtt.publish_timeout_ms, config.mqtt.publish_timeout_max_ms) + 1000,
    metrics && ((p, err) => metrics.producerRejected(p, err)),
  );
  const gate = new InflightGate({
    max: config.max_records_in_flight,
    perVehicle: config.max_records_in_flight_per_vehicle,
    producers: dispatcher.allProducers(),
  });
  const publishPresence = presencePublisher(dispatcher.producersFor('connectivity')) ?? (() => Promise.resolve());
  let server: VehicleServer | undefined;
  if (!presence) {
    tracker = new PresenceTracker(
      { publish: publishPresence, closeIfIdle: (key, since) => Promise.resolve(server ? server.closeIfIdle(key, since) : 'gone') },
      {
        graceMs: config.presence.close_older_after_ms,
        onPublishFailed: (vin, err) =>
          logger.debug({ event: 'presence_not_published', vin, err: (err as Error).message }, 'presence not published; tried again'),
      },
    );
    undo.push(async () => tracker!.stop());
  }
  let monitor: MonitorServer | undefined;
  if (metrics && serveMonitor) {
    const fleet = new LocalFleet(metrics.fleet!, metrics);
    const allowed = fleetAccessFromConfig(config);
    if (!allowed.ok) await unwind(new StartError(allowed.message, { code: allowed.code, cause: allowed.cause }));
    const access = allowed.ok ? allowed.access : undefined;
    monitor = await startMonitor({ host: config.monitoring.host, port: monitoringPort, access, metrics, logger, fleet }).catch((err) =>
      unwind(bindError(err, 'monitoring.prometheus_metrics_port', config.monitoring.host, monitoringPort)),
    );
    undo.push(() => monitor!.close());
    logger.info(
      { event: 'monitoring_listening', host: monitor.host, port: monitor.port },
      `monitoring listening on ${monitor.host}:${monitor.port} (/ fleet page, /metrics, /livez, /readyz, /vehicles, /api)`,
    );
  }
  const keyPage: PublicKeyPage | undefined = await startKeyPageIfConfigured(config, appKey, tls, logger).catch(unwind);
  if (keyPage) undo.push(() => keyPage.close());
  const readiness = () => readinessOf(producers, stopping === undefined);
  server = await startVehicleServer({
    config,
    tls,
    dispatcher,
    logger,
    events,
    gate,
    readiness,
    presence: presence ?? tracker,
    keyOwner: `${opts.worker ?? 0}/${process.pid}`,
  }).catch(unwind);
  const vehicles = server;
  for (const p of producers.values()) p.start?.();
  const reloader = worker
    ? undefined
    : startTlsReloader(config, tls, logger, (m) => {
        server.setTls(m);
        keyPage?.setCertificate(m.cert, m.key);
      });
  if (worker)
    logger.info(
      { event: 'worker_listening', pid: process.pid, port: vehicles.port },
      `worker ${opts.worker} serving vehicles on ${config.host}:${vehicles.port}`,
    );
  else {
    const mode = config.tls.proxy ? ` (plain HTTP behind a TLS-terminating proxy: ${config.tls.proxy.trusted_proxies.join(', ')})` : '';
    logger.info(
      { event: 'listening', host: config.host, port: vehicles.port, status_port: vehicles.statusPort, tls: config.tls.proxy ? 'proxy' : 'direct' },
      `vehicle server listening on ${config.host}:${vehicles.port}${mode}`,
    );
  }

  const stop = () =>
    (stopping ??= (async () => {
      reloader?.close();
      // /readyz turns 503 as soon as stopping is set; the monitor stays up until the end.
      await vehicles.shutdown(config.mqtt.publish_timeout_ms + 1000);
      // The vehicles' offline presence, before the producers let go of the broker.
      await (presence ?? tracker)?.flush(config.mqtt.publish_timeout_ms + 1000);
      tracker?.stop();
      await Promise.all([...producers.values()].map((p) => p.close().catch(() => {})));
      await broker?.close();
      await monitor?.close();
      await keyPage?.close();
    })());
  return {
    server: vehicles,
    broker,
    producers,
    logger,
    metrics,
    monitor,
    publishPresence,
    keyPage,
    reloadTls: (trigger) => reloader?.reload(trigger) ?? false,
    stop,
  };
}

/** The checks every start makes before anything listens: config keys not used, the TLS files. */
export function checkConfigAndTls(config: Config, logger: Logger): void {
  if (config.ignoredKeys.length) {
    logger.warn(
      { event: 'config_keys_ignored', keys: config.ignoredKeys },
      `accepted but not used by this server: ${config.ignoredKeys.join(', ')} (acks here are always reliable)`,
    );
  }
  const tlsFailures = checkAtStart(config, logger);
  if (tlsFailures.length) throw new StartError(`TLS check failed:\n${tlsFailures.join('\n')}`);
}

/** The embedded broker when records go to MQTT and mqtt.broker is "embedded"; its port goes into config. */
export async function startBrokerIfEmbedded(config: Config, logger: Logger): Promise<EmbeddedBroker | undefined> {
  const usesMqtt = Object.values(config.records).some((names) => names?.includes('mqtt'));
  if (!usesMqtt || config.mqtt.broker !== 'embedded') return undefined;
  let broker: EmbeddedBroker;
  try {
    broker = await startEmbeddedBroker(config.mqtt.embedded_host, config.mqtt.embedded_port);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    const at = `${config.mqtt.embedded_host}:${config.mqtt.embedded_port}`;
    throw new StartError(
      `the embedded MQTT broker cannot listen on ${at} (mqtt.embedded_port): something already does, often another broker. ` +
        `To use that broker, set "mqtt": {"broker": "${at}"}; or choose another mqtt.embedded_port.`,
    );
  }
  config.mqtt.embedded_port = broker.port;
  logger.info({ event: 'embedded_broker_listening', host: broker.host, port: broker.port }, 'embedded MQTT broker listening');
  return broker;
}

/** The one line `serve` prints when it cannot start (exit 2). */
export function startFailureMessage(err: unknown): string {
  return err instanceof StartError
    ? err.message
    : (err as NodeJS.ErrnoException).code === 'EADDRINUSE'
      ? `address in use: ${(err as Error).message}`
      : (err as Error).message;
}

/** What `serve` runs until a signal: one server (startAll) or the primary of several workers. */
export type Starter = (config: Config, logger: Logger) => Promise<{ stop(): Promise<void>; reloadTls?(trigger: string): boolean }>;

/** `serve`: runs until SIGTERM/SIGINT, then shuts down gracefully and exits 0. */
export async function runServer(config: Config, start: Starter = startAll): Promise<number> {
  // With workers, the primary shares stdout with them.
  const logger = createLogger({ level: config.log_level, json: config.json_log_enable, shared: start !== startAll });
  let running: Awaited<ReturnType<Starter>>;
  try {
    running = await start(config, logger);
  } catch (err) {
    const msg = startFailureMessage(err);
    // Text logs share the terminal with stderr: the reason is said once there, with its line breaks.
    if (config.json_log_enable) {
      logger.error({ event: 'start_failed', reason: msg }, 'cannot start');
      logger.flush?.();
    }
    process.stderr.write(`fleet-telemetry: cannot start: ${msg}\n`);
    return 2;
  }
  return new Promise<number>((resolve) => {
    const onSignal = (signal: string) => {
      logger.info({ event: 'shutdown', signal }, 'shutting down');
      const hard = setTimeout(() => {
        logger.error({ event: 'shutdown_timeout' }, 'shutdown took too long');
        resolve(1);
      }, config.mqtt.publish_timeout_ms + 10_000);
      hard.unref();
      running.stop().then(
        () => {
          clearTimeout(hard);
          logger.info({ event: 'stopped' }, 'stopped');
          logger.flush?.();
          resolve(0);
        },
        () => resolve(1),
      );
    };
    process.once('SIGTERM', () => onSignal('SIGTERM'));
    process.once('SIGINT', () => onSignal('SIGINT'));
    // What an ACME client's deploy hook (or systemctl reload) sends after a renewal.
    process.on('SIGHUP', () => void running.reloadTls?.('SIGHUP'));
  });
}
