import { createRequire, isBuiltin } from 'node:module';
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Producer, ProducerContext, ProducerFactory } from './types.js';
import { FleetTelemetryError } from '../errors.js';

/**
 * Where a package name leads, seen from the config file's folder (its node_modules, or the
 * package itself by self-reference when the config sits inside it); undefined when it leads
 * nowhere from there.
 */
function resolveFromConfigDir(spec: string, baseDir: string): string | undefined {
  try {
    const found = createRequire(join(baseDir, 'config.json')).resolve(spec);
    return isBuiltin(found) ? found : pathToFileURL(found).href;
  } catch {
    return undefined;
  }
}

/**
 * A producer from a module named in the config (`producers.<name>.module`): a path relative to
 * the config file, an absolute path, or a package name resolved from the config file's folder.
 * A name this server ships (`fleet-telemetry/plugins/…`) also loads from a config anywhere else:
 * it then resolves against this package. The module exports a factory, as `default` or
 * `createProducer`.
 */
export async function loadPluginFactory(moduleSpec: string, baseDir: string): Promise<ProducerFactory> {
  const isPath = moduleSpec.startsWith('.') || isAbsolute(moduleSpec);
  // Unresolved from the config's folder, a bare name is imported from here: this package (by
  // self-reference through its `exports`) and what it depends on.
  const target = isPath ? pathToFileURL(resolve(baseDir, moduleSpec)).href : (resolveFromConfigDir(moduleSpec, baseDir) ?? moduleSpec);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(target)) as Record<string, unknown>;
  } catch (err) {
    throw new FleetTelemetryError('plugin_unloadable', `cannot load producer module ${moduleSpec}: ${(err as Error).message}`, { cause: err });
  }
  return pluginFactory(mod.createProducer ?? mod.default, moduleSpec);
}

/**
 * The server's factory for what a plugin module exports: checked to be a function, and what it
 * returns checked and seen through asProducer. `label` names the module in errors.
 */
export function pluginFactory(exported: unknown, label: string): ProducerFactory {
  if (typeof exported !== 'function') {
    throw new Error(`producer module ${label} exports no factory (default or createProducer)`);
  }
  return async (ctx: ProducerContext): Promise<Producer> => {
    const p = (await (exported as ProducerFactory)(ctx)) as PluginObject | undefined;
    if (!p || typeof p.produce !== 'function') {
      throw new Error(`producer module ${label} returned no object with produce(record)`);
    }
    return asProducer(ctx.name, p);
  };
}

/** What a plugin's factory returns: a plain object, a class instance, a frozen object. */
type PluginObject = Partial<Omit<Producer, 'name'>> & Pick<Producer, 'produce'>;

/**
 * The server's view of a plugin. Every call goes to the object the plugin returned, as a method
 * of it: a copy (a spread) would drop what lives on a class's prototype, its getters and its
 * private fields, and a frozen object could not take a name or a default close().
 */
function asProducer(name: string, p: PluginObject): Producer {
  const has = (k: keyof PluginObject) => typeof p[k] === 'function';
  return {
    name,
    produce: (record) => p.produce(record),
    get selfTimed() {
      return p.selfTimed === true;
    },
    ready: has('ready') ? () => p.ready!() : undefined,
    hasRoom: has('hasRoom') ? () => p.hasRoom!() : undefined,
    onRoom: has('onRoom') ? (listener) => p.onRoom!(listener) : undefined,
    vehicleBudget: has('vehicleBudget') ? () => p.vehicleBudget!() : undefined,
    start: has('start') ? () => p.start!() : undefined,
    close: async () => {
      if (has('close')) await p.close!();
    },
  };
}
