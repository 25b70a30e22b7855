import { pino } from 'pino';
import { parseConfig } from '../config/load.js';
import type { Config, DerivedPublisher, Logger, Producer, ProducerContext, ProducerFactory, RecordType, VehicleRecord } from '../plugin/index.js';
import { pluginFactory } from '../producers/plugin.js';
import { contractOthers, contractV } from './records.js';
import { FleetTelemetryError } from '../plugin/index.js';

export interface ContractOptions {
  /** The producer's name in `records` (`ProducerContext.name`); default `plugin`. */
  name?: string;
  /** `producers.<name>.options`, as the config would pass them; default `{}`. */
  options?: Record<string, unknown>;
  /** The server configuration; default: a minimal valid one with every default filled in. */
  config?: Config;
  /** Default: a silent logger. */
  logger?: Logger;
  /** Default: a publisher that takes every value and keeps it in the report's `derived`. */
  derived?: DerivedPublisher;
  /**
   * Whether the sink shows `record` (a line in your file, a request your server got). Asked
   * again every 25 ms until true, after the first record and after the last of the concurrent
   * ones; without it, records are only checked to be taken.
   */
  seen?: (record: VehicleRecord) => boolean | Promise<boolean>;
  /** Record types the producer is routed; the others are not sent. Default: all four. */
  recordTypes?: readonly RecordType[];
  /** Called with the name of each check that passed (e.g. `(name) => t.pass(name)`). */
  onCheck?: (name: string) => void;
  /** Longest wait for one step: a record settling, ready(), seen(), close(). Default 10,000 ms. */
  timeoutMs?: number;
}

/** A value the producer published through `ctx.derived` (with the default publisher). */
export interface DerivedValue {
  vin: string;
  name: string;
  value: unknown;
}

export interface ContractReport {
  /** Every check, in order; all passed. */
  passed: string[];
  derived: DerivedValue[];
}

/** A check of the contract failed; `cause` is what the producer did (its rejection, a timeout). */
export class ContractFailure extends FleetTelemetryError {
  declare readonly code: 'producer_contract_failed';
  constructor(
    readonly check: string,
    cause: unknown,
  ) {
    super('producer_contract_failed', `producer contract: ${check}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

const ALL_TYPES: readonly RecordType[] = ['V', 'alerts', 'errors', 'connectivity'];
const CONCURRENT = 50;

/** What a context is made of; each part has a default. */
export type ContextOptions = Pick<ContractOptions, 'name' | 'options' | 'config' | 'logger' | 'derived'>;

/**
 * A ProducerContext as the server gives one, for a plugin's own unit tests: name `plugin`, a
 * minimal valid config with every default filled in, a silent logger, no options, and a derived
 * publisher that takes every value and does nothing with it, unless given.
 */
export function producerContext(opts: ContextOptions = {}): ProducerContext {
  const text = JSON.stringify({ records: { V: ['mqtt'] }, tls: { server_cert: 'server.pem', server_key: 'server.key' } });
  return {
    name: opts.name ?? 'plugin',
    config: opts.config ?? parseConfig(text, 'contract-config.json', {}),
    logger: opts.logger ?? pino({ level: 'silent' }),
    options: opts.options ?? {},
    derived: opts.derived ?? { publish: async () => {} },
  };
}

/** `p`, or a rejection once `ms` passed without it settling. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

async function until(test: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await test()) return;
    if (Date.now() >= end) throw new Error(`${what}: still false after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Runs the producer contract on `factory`, the function a plugin module exports, seen as the
 * server sees it: it is called with a context, its producer started, given one record of each
 * type, a resent record and 50 records at once, then closed. Every record must be taken
 * (produce() resolves), produce() must return a promise and never throw, and close() must end
 * it. Resolves with the passed checks; rejects with a ContractFailure at the first that fails,
 * after closing the producer. Needs no test framework: any runner that fails a test on a
 * rejected promise will do.
 */
export async function runProducerContract(factory: ProducerFactory, opts: ContractOptions = {}): Promise<ContractReport> {
  const ms = opts.timeoutMs ?? 10_000;
  const types = new Set(opts.recordTypes ?? ALL_TYPES);
  const report: ContractReport = { passed: [], derived: [] };
  const check = async <T>(name: string, step: () => T | Promise<T>): Promise<T> => {
    let value: T;
    try {
      value = await step();
    } catch (err) {
      throw new ContractFailure(name, err);
    }
    report.passed.push(name);
    opts.onCheck?.(name);
    return value;
  };
  const ctx = producerContext({
    ...opts,
    derived: opts.derived ?? {
      publish: async (vin, name, value) => {
        report.derived.push({ vin, name, value });
      },
    },
  });
  const taken = (r: VehicleRecord, p: Producer) => {
    let out: unknown;
    try {
      out = p.produce(r);
    } catch (err) {
      throw new Error(`produce() threw instead of returning a promise: ${(err as Error).message}`, { cause: err });
    }
    if (!(out instanceof Promise)) throw new Error(`produce() returned ${typeof out}, not a promise`);
    return within(out, ms, `produce() of the ${r.type} record ${JSON.stringify(r.txid)}`);
  };
  const seen = async (r: VehicleRecord) => {
    if (opts.seen) await until(() => opts.seen!(r), ms, `seen(${JSON.stringify(r.txid)})`);
  };

  const producer = await check('the factory makes a producer', async () =>
    within(Promise.resolve(pluginFactory(factory, 'under test')(ctx)), ms, 'the factory'),
  );
  let closed = false;
  try {
    await check('start() and ready()', async () => {
      producer.start?.();
      if (producer.ready) await until(() => producer.ready!() === true, ms, 'ready()');
    });
    const first = contractV('contract-1', 42.5);
    if (types.has('V')) {
      await check('a V record is taken', () => taken(first, producer));
      if (opts.seen) await check('and seen in the sink', () => seen(first));
      await check('a resent V record (same txid) is taken again', () => taken(contractV('contract-1', 42.5), producer));
    }
    for (const r of contractOthers()) {
      if (types.has(r.type)) await check(`the ${r.type} record is taken`, () => taken(r, producer));
    }
    if (types.has('V')) {
      const many = Array.from({ length: CONCURRENT }, (_, i) => contractV(`contract-m-${i}`, i));
      await check(`${CONCURRENT} V records at once are all taken`, () => Promise.all(many.map((r) => taken(r, producer))));
      if (opts.seen) await check('the last of them is seen in the sink', () => seen(many[CONCURRENT - 1]));
    }
    await check('the optional methods answer what they promise', () => {
      if (producer.hasRoom && typeof producer.hasRoom() !== 'boolean') throw new Error('hasRoom() returned no boolean');
      const budget = producer.vehicleBudget?.();
      if (budget !== undefined && !(budget > 0)) throw new Error(`vehicleBudget() returned ${budget}, not a number above 0`);
    });
    closed = true;
    await check('close() resolves', () => within(producer.close(), ms, 'close()'));
  } finally {
    // A failed check still lets go of the producer's connections and timers.
    if (!closed) await within(producer.close(), ms, 'close()').catch(() => {});
  }
  return report;
}
