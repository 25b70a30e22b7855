import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import { createLogger } from '../ops/log.js';
import { statusTopic } from '../publish/topics.js';
import { readinessOf } from '../ops/readiness.js';
import { workerChanges } from '../ops/fleet/local.js';
import { startAll, startFailureMessage, type RunningServer } from './run.js';
import type { Presence } from '../publish/presence.js';
import type { PresenceCorrections } from '../producers/presence.js';
import type { PresencePort } from './presence/port.js';
import { isPermanent } from '../errors.js';

/** What the primary asks a worker, answered over IPC. */
export type Question = 'metrics' | 'vehicles' | 'readiness' | 'fleet' | 'vehicle' | 'presence' | 'close_older';

/** What a worker tells the primary's presence tracker (see presence/port.ts). */
export type PresenceNote =
  | { ev: 'opened'; key: string; vin: string; id: number }
  | { ev: 'active' | 'closed'; key: string }
  | { ev: 'suspect'; vin: string; afterMs: number }
  | { ev: 'flush'; id: number; ms: number };

export type ToWorker =
  | { ft: 'start'; config: Config; index: number }
  | { ft: 'ask'; id: number; what: Question; arg?: unknown }
  | { ft: 'stop' }
  | { ft: 'done'; id: number }
  | { ft: 'tls'; cert: string; key: string; ca: string[] };
export type FromWorker =
  | { ft: 'hello' }
  | { ft: 'ready'; port: number }
  | { ft: 'failed'; reason: string }
  | { ft: 'answer'; id: number; value: unknown }
  | ({ ft: 'presence' } & PresenceNote);

/**
 * Worker k's config: the primary serves status_port and monitoring, so the worker does not; its
 * MQTT client id (default or mqtt.client_id) and an explicit status topic get `-w<k>` and `/w<k>`,
 * so each worker is its own MQTT session with its own online/offline status (its Last Will),
 * and the same k after a restart takes its session back. `clientId` is the id one server would use.
 */
export function workerConfig(config: Config, k: number, clientId: string, count: number): Config {
  const c = structuredClone(config);
  c.status_port = undefined;
  const own = (i: number) => ({ clientId: `${clientId}-w${i}`, statusTopic: config.mqtt.status_topic && `${config.mqtt.status_topic}/w${i}` });
  c.mqtt.client_id = own(k).clientId;
  if (c.mqtt.status_topic) c.mqtt.status_topic = own(k).statusTopic;
  // A vehicle may be on any worker, and moves when one dies: its entities are available while
  // any worker is online, not only the one that announced them last.
  c.siblingStatusTopics = Array.from({ length: count }, (_, i) => statusTopic(own(i + 1).statusTopic, own(i + 1).clientId)).filter(
    (t): t is string => t !== undefined,
  );
  return c;
}

function flushed(logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    setTimeout(resolve, 500).unref();
    logger.flush((/* err */) => resolve());
  });
}

/** A worker process (forked by cluster.ts): starts when the primary says so, answers its questions, drains on stop. */
export function runWorker(): void {
  const send = (m: FromWorker) => new Promise<void>((resolve) => (process.connected ? process.send!(m, undefined, undefined, () => resolve()) : resolve()));
  let config: Config | undefined;
  let logger: Logger | undefined;
  let running: RunningServer | undefined;
  // Asked to stop (by the primary, a signal, or the primary's loss) before or while starting.
  let stopAsked: string | undefined;
  let stopping = false;

  const stop = async (why: string) => {
    if (!running) {
      // Not serving yet: remembered and done once the start settles; before any start, nothing to drain.
      stopAsked ??= why;
      if (!config) process.exit(0);
      return;
    }
    if (stopping) return;
    stopping = true;
    logger!.info({ event: 'worker_shutdown', reason: why }, 'worker shutting down');
    setTimeout(() => process.exit(1), config!.mqtt.publish_timeout_ms + 10_000).unref();
    await running.stop().catch(() => {});
    logger!.info({ event: 'worker_stopped' }, 'worker stopped');
    await flushed(logger!);
    process.exit(0);
  };

  const answer = async (what: Question, arg: unknown): Promise<unknown> => {
    const fleet = running?.metrics?.fleet;
    switch (what) {
      case 'metrics':
        return (await running?.metrics?.registry.getMetricsAsJSON()) ?? [];
      case 'vehicles':
        // Per connection: the primary merges them per vehicle over every worker.
        return running?.metrics?.connectionRows() ?? [];
      case 'readiness':
        return running ? readinessOf(running.producers, !stopping) : { ready: false, producers: {}, reason: 'starting' };
      case 'fleet':
        // Only the rows changed since the primary's cursor for this worker.
        return fleet && workerChanges(fleet, running!.metrics!, typeof arg === 'number' ? arg : 0);
      case 'vehicle':
        return typeof arg === 'string' ? fleet?.detail(arg) : undefined;
      case 'presence': {
        // The primary decides; this worker's producers publish. An error is answered, not thrown.
        const { vin, presence } = arg as { vin: string; presence: Presence };
        if (!running) return { ok: false, error: 'worker not serving' };
        return running.publishPresence(vin, presence).then(
          () => ({ ok: true }),
          (err: unknown) => ({ ok: false, error: (err as Error).message, permanent: isPermanent(err) }),
        );
      }
      case 'close_older': {
        const { key, since } = arg as { key: string; since: number };
        return running ? running.server.closeIfIdle(key, since) : 'gone';
      }
    }
  };

  let waits = 0;
  const flushWaits = new Map<number, () => void>();
  /** Sends what `ask` makes with a fresh id; resolves when the primary answers `done` to it, or after `ms`. */
  const waitFor = (ask: (id: number) => void, ms: number) =>
    new Promise<void>((resolve) => {
      const id = ++waits;
      const done = () => {
        clearTimeout(timer);
        flushWaits.delete(id);
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      flushWaits.set(id, done);
      ask(id);
    });
  // Presence is the primary's: it sees every worker's connections of a vehicle.
  const note = (n: PresenceNote) => void send({ ft: 'presence', ...n });
  const presence: PresencePort & PresenceCorrections = {
    opened: (key, vin) => waitFor((id) => note({ ev: 'opened', key, vin, id }), config!.mqtt.publish_timeout_ms + 3000),
    active: (key) => note({ ev: 'active', key }),
    closed: (key) => note({ ev: 'closed', key }),
    suspect: (vin, afterMs) => note({ ev: 'suspect', vin, afterMs }),
    // Shutdown: the primary publishes this worker's vehicles offline while its producers still run.
    flush: (ms) => waitFor((id) => note({ ev: 'flush', id, ms }), ms + 1000),
  };

  const serve = async (k: number) => {
    logger = createLogger({ level: config!.log_level, json: config!.json_log_enable, shared: true }).child({ worker: k });
    try {
      running = await startAll(config!, logger, { worker: k, presence });
    } catch (err) {
      const reason = startFailureMessage(err);
      logger.error({ event: 'worker_start_failed', reason }, 'worker cannot start');
      await flushed(logger);
      await send({ ft: 'failed', reason });
      process.exit(2);
    }
    if (stopAsked !== undefined) return void stop(stopAsked);
    await send({ ft: 'ready', port: running.server.port });
  };

  process.on('message', (msg: ToWorker) => {
    if (msg.ft === 'start' && !config) {
      config = msg.config;
      void serve(msg.index);
    } else if (msg.ft === 'stop') void stop('asked by the primary');
    else if (msg.ft === 'done') flushWaits.get(msg.id)?.();
    else if (msg.ft === 'tls') running?.server.setTls(msg);
    else if (msg.ft === 'ask')
      void answer(msg.what, msg.arg).then(
        (value) => send({ ft: 'answer', id: msg.id, value }),
        () => send({ ft: 'answer', id: msg.id, value: undefined }),
      );
  });
  // A terminal's Ctrl-C reaches every process of the group; a lost primary leaves nobody to ask.
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('disconnect', () => void stop('primary gone'));
  // The primary reloads TLS and sends it; a SIGHUP to the whole group must not end a worker.
  process.on('SIGHUP', () => {});
  // A message sent before the listener above existed would be lost: the primary waits for this one.
  void send({ ft: 'hello' });
}
