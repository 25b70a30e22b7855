import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Producer, ProducerContext, ProducerFactory } from './types.js';

/**
 * A producer from a module named in the config (`producers.<name>.module`): a path relative to
 * the config file, an absolute path, or a package name. The module exports a factory, as
 * `default` or `createProducer`.
 */
export async function loadPluginFactory(moduleSpec: string, baseDir: string): Promise<ProducerFactory> {
  const isPath = moduleSpec.startsWith('.') || isAbsolute(moduleSpec);
  const target = isPath ? pathToFileURL(resolve(baseDir, moduleSpec)).href : moduleSpec;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(target)) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`cannot load producer module ${moduleSpec}: ${(err as Error).message}`);
  }
  const factory = (mod.createProducer ?? mod.default) as unknown;
  if (typeof factory !== 'function') {
    throw new Error(`producer module ${moduleSpec} exports no factory (default or createProducer)`);
  }
  return async (ctx: ProducerContext): Promise<Producer> => {
    const p = (await (factory as ProducerFactory)(ctx)) as Partial<Producer> | undefined;
    if (!p || typeof p.produce !== 'function') {
      throw new Error(`producer module ${moduleSpec} returned no object with produce(record)`);
    }
    return { name: ctx.name, close: async () => {}, ...p } as Producer;
  };
}
