import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import { derivedPublisher, type DerivedListener } from './derived.js';
import { createLoggerProducer } from './logger.js';
import { createMqttProducer } from './mqtt/producer.js';
import { loadPluginFactory } from './plugin.js';
import type { Producer, ProducerFactory } from './types.js';
import type { PresenceCorrections } from './presence.js';

/** Built-in producers by name; plugins join them from `producers` in the config. */
export const builtinProducers: Record<string, ProducerFactory> = {
  mqtt: createMqttProducer,
  logger: createLoggerProducer,
  // Loaded only when routed: their client libraries (zeromq's native addon above all) stay out of
  // other servers and out of every CLI start (kafkajs and the AWS SDK made check-config 0.3 s slower).
  kafka: async (ctx) => (await import('./kafka/producer.js')).createKafkaProducer(ctx),
  kinesis: async (ctx) => (await import('./kinesis/producer.js')).createKinesisProducer(ctx),
  redis: async (ctx) => (await import('./redis/producer.js')).createRedisProducer(ctx),
  zmq: async (ctx) => (await import('./zmq/producer.js')).createZmqProducer(ctx),
};

export interface CreateProducersOptions {
  /** Called after a plugin's derived publish succeeded. */
  onDerived?: DerivedListener;
  /** See ProducerContext.presenceCorrections. */
  presenceCorrections?: () => PresenceCorrections | undefined;
}

/** Creates every producer that `records` names, once each. */
export async function createProducers(config: Config, logger: Logger, opts: CreateProducersOptions = {}): Promise<Map<string, Producer>> {
  const factories = new Map<string, { factory: ProducerFactory; options: Record<string, unknown> }>();
  for (const [name, f] of Object.entries(builtinProducers)) factories.set(name, { factory: f, options: {} });
  for (const [name, spec] of Object.entries(config.producers)) {
    factories.set(name, { factory: await loadPluginFactory(spec.module, config.baseDir), options: spec.options ?? {} });
  }
  const producers = new Map<string, Producer>();
  // Shared by every producer; it finds the mqtt producer at publish time, once all exist.
  const derived = derivedPublisher(producers, logger, opts.onDerived);
  for (const name of new Set(Object.values(config.records).flat())) {
    if (!name) continue;
    const entry = factories.get(name);
    if (!entry) throw new Error(`producer ${name} does not exist`);
    producers.set(name, await entry.factory({ name, config, logger, options: entry.options, derived, presenceCorrections: opts.presenceCorrections }));
  }
  return producers;
}
