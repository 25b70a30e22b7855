// The public plugin API as a plugin in its own package sees it: imported by package name
// (through package.json `exports` and the emitted declarations), checked with strict settings
// and no skipLibCheck. Each `@ts-expect-error` is a mistake the types must refuse.
import {
  InvalidRecord,
  rateLimitedLog,
  type Config,
  type DerivedPublisher,
  type Logger,
  type Producer,
  type ProducerContext,
  type ProducerFactory,
  type RecordType,
  type VehicleRecord,
} from 'fleet-telemetry/plugin';
import { ContractFailure, runProducerContract, type ContractOptions, type ContractReport } from 'fleet-telemetry/testing';

// A plugin as docs/plugins.md writes it.
export const createProducer: ProducerFactory = (ctx: ProducerContext) => {
  const dir = typeof ctx.options.dir === 'string' ? ctx.options.dir : '/tmp';
  const log = rateLimitedLog(ctx.logger.child({ producer: ctx.name }), { burst: 2, intervalMs: 1000 });
  const topicBase: string = ctx.config.mqtt.topic_base;
  return {
    name: ctx.name,
    selfTimed: true,
    async produce(record) {
      if (record.vin === '') throw new InvalidRecord('no VIN');
      log.warn('seen', { event: 'seen', dir, topicBase }, 'a record');
      await ctx.derived?.publish(record.vin, 'seen', { type: record.type });
    },
    hasRoom: () => true,
    vehicleBudget: () => 100,
    async close() {},
  };
};

// Records narrow on `type`.
export function describe(r: VehicleRecord): string {
  switch (r.type) {
    case 'V':
      return r.data.map((d) => `${d.name}=${d.json}`).join(',');
    case 'alerts':
      return r.alerts.map((a) => a.name + (a.startedAt ? String(a.startedAt.seconds) : '')).join(',');
    case 'errors':
      return r.errors.map((e) => `${e.name}:${e.body}`).join(',');
    case 'connectivity':
      return `${r.status} ${r.connectionId} ${r.networkInterface}`;
  }
}

export function onlyV(r: VehicleRecord): number {
  // @ts-expect-error only a V record has data
  return r.data.length;
}

const types: RecordType[] = ['V', 'alerts', 'errors', 'connectivity'];
// @ts-expect-error no such record type
types.push('metrics');

// @ts-expect-error produce() returns a promise
export const syncProduce: Producer = { name: 'x', produce: () => undefined, close: async () => {} };
// @ts-expect-error close() is required
export const noClose: Producer = { name: 'x', produce: async () => {} };

export function optionsAreUnknown(ctx: ProducerContext): void {
  // @ts-expect-error options come from JSON: a plugin checks them before use
  const dir: string = ctx.options.dir;
  void dir;
}

export function helpers(logger: Logger, config: Config, derived: DerivedPublisher): void {
  const log = rateLimitedLog(logger);
  log.write('info', 'k', { event: 'e' }, 'message');
  // @ts-expect-error a level pino has not
  log.write('loud', 'k', {}, 'message');
  const permanent: true = new InvalidRecord('never').permanent;
  const asError: Error = new InvalidRecord('never');
  void [permanent, asError, config.records.V, derived.publish('vin', 'name', { any: 'json' })];
}

// The contract kit takes the factory and options for it.
const opts: ContractOptions = { name: 'mine', options: { dir: '/tmp' }, seen: (r) => r.txid !== '', onCheck: (name) => void name, timeoutMs: 5000 };
export const run: Promise<ContractReport> = runProducerContract(createProducer, opts);
export const failure: string = new ContractFailure('check', new Error('cause')).check;
// @ts-expect-error the kit takes a factory, not a producer
void runProducerContract({ name: 'x', produce: async () => {}, close: async () => {} });
// @ts-expect-error an unknown option is refused
void runProducerContract(createProducer, { retries: 3 });

// Internals are not reachable by package name: only the exported entries are.
// @ts-expect-error not exported by package.json
void import('fleet-telemetry/dist/producers/registry.js');
