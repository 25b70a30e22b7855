import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { parseConfig } from '../src/config/load.js';
import { loadPluginFactory } from '../src/producers/plugin.js';
import { repoRoot } from './helpers/server.js';

// How `"module"` names resolve: a package from the config file's folder; the shipped plugins from
// anywhere, the package itself being their fallback.
function pkg(dir: string, name: string, body: string) {
  const root = join(dir, 'node_modules', ...name.split('/'));
  mkdirSync(join(root, 'plugins'), { recursive: true });
  writeFileSync(
    join(root, 'package.json'),
    JSON.stringify({ name, type: 'module', exports: { '.': './index.js', './plugins/driver-score': './plugins/ds.js' } }),
  );
  writeFileSync(join(root, 'index.js'), body);
  writeFileSync(join(root, 'plugins', 'ds.js'), body);
}

const config = () => parseConfig(JSON.stringify({ records: { V: ['mqtt'] }, tls: { server_cert: 's', server_key: 'k' } }), '/tmp/config.json', {});
const make = async (spec: string, dir: string) =>
  (await loadPluginFactory(spec, dir))({ name: 'p', config: config(), logger: pino({ level: 'silent' }), options: {} });

t.test('module names: config folder first, then the package itself for fleet-telemetry/…', async (t) => {
  const outside = mkdtempSync(join(tmpdir(), 'ft-resolve-'));
  t.teardown(() => rmSync(outside, { recursive: true, force: true }));
  const plain = mkdtempSync(join(tmpdir(), 'ft-resolve-plain-'));
  t.teardown(() => rmSync(plain, { recursive: true, force: true }));
  pkg(outside, 'acme-producer', "export default () => ({ async produce() { throw new Error('acme'); } });");

  await t.rejects((await make('acme-producer', outside)).produce({} as never), /acme/, "a package in the config folder's node_modules loads");
  await t.rejects(loadPluginFactory('acme-producer', plain), /cannot load producer module acme-producer/, 'and not from a folder without it');

  for (const [where, dir] of [
    ['a folder outside the package', plain],
    ['the repository root (config.example.json)', repoRoot()],
  ]) {
    const p = await make('fleet-telemetry/plugins/driver-score', dir);
    t.equal(typeof p.produce, 'function', `fleet-telemetry/plugins/driver-score loads from ${where}`);
    t.equal(p.selfTimed, true, 'the shipped plugin');
    await p.close();
  }
  await t.rejects(loadPluginFactory('fleet-telemetry/plugins/nope', plain), /cannot load producer module fleet-telemetry\/plugins\/nope/);

  // An installation that has its own fleet-telemetry beside the config uses that one.
  pkg(outside, 'fleet-telemetry', "export default () => ({ async produce() { throw new Error('local copy'); } });");
  const local = await make('fleet-telemetry/plugins/driver-score', outside);
  await t.rejects(local.produce({} as never), /local copy/, "the config folder's copy wins");
});
