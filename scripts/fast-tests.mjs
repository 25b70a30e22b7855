// Prints the built test files that `make check` runs, one per line: the tests that run in their
// own process alone. A test is left out when it reaches, through its imports under test/:
//   - a helper that starts a program from outside npm (a broker, a proxy, a browser, Python), or
//   - a child process of ours: the server or the CLI (startServer, runCli), or node:child_process.
// Those need Debian packages or take seconds each; `make test` runs them all.
//   node scripts/fast-tests.mjs              the fast tests (build/test/<name>.test.js)
//   node scripts/fast-tests.mjs --spawning   also those that start only our own server or CLI
//   node scripts/fast-tests.mjs --why        every test, and what keeps it out
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TEST = join(ROOT, 'test');
const HELPERS = join(TEST, 'helpers');

// Helpers that start an outside program, and the program.
const SERVICE_HELPERS = new Map([
  ['browser.ts', 'chromium'],
  ['haproxy.ts', 'haproxy'],
  ['isolation.ts', 'nats-server'],
  ['jinja.ts', 'python3-jinja2'],
  ['kafka-mock.ts', 'gcc and librdkafka'],
  ['kcat.ts', 'kcat'],
  ['kinesalite.ts', 'kinesalite'],
  ['mosquitto.ts', 'mosquitto'],
  ['nats-cluster.ts', 'nats-server'],
  ['nginx.ts', 'nginx'],
  ['rabbitmq.ts', 'rabbitmq-server'],
  ['redis.ts', 'redis-server'],
]);

// Helpers whose other exports are pure: only these names start a child process.
const STARTER_NAMES = new Map([
  ['server.ts', ['startServer']],
  ['cli.ts', ['runCli']],
  ['ports.ts', ['trackChild']],
]);

const CHILD_PROCESS = new Set(['node:child_process', 'child_process']);
const IMPORT = /\b(?:import|export)\s+(?:type\s+)?([^'";]*?)\s*from\s*'([^']+)'|\bimport\s*(?:\(\s*)?'([^']+)'/g;

/** The names an import clause takes: `{ a, type B as C }` is a and B; a default or `* as` is '*', all. */
function importedNames(clause) {
  const braces = /^\{([^}]*)\}$/.exec(clause.trim());
  if (!braces) return ['*'];
  return braces[1].split(',').flatMap((part) => {
    const name = /^\s*(?:type\s+)?(\w+)/.exec(part);
    return name ? [name[1]] : [];
  });
}

/** Each import of a file: the module as written, the names it takes, and the file under test/ it is. */
function importsOf(file) {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(IMPORT)].map((m) => {
    const spec = m[2] ?? m[3];
    const local = spec.startsWith('.') ? resolve(dirname(file), spec.replace(/\.js$/, '.ts')) : undefined;
    return { spec, names: importedNames(m[1] ?? ''), local: local?.startsWith(TEST + '/') ? local : undefined };
  });
}

/** What keeps `file` out of the fast tests, or undefined: 'needs <program>' or 'starts <what>'. */
function reason(file, seen = new Set()) {
  if (seen.has(file)) return undefined;
  seen.add(file);
  const name = dirname(file) === HELPERS ? basename(file) : undefined;
  if (name && SERVICE_HELPERS.has(name)) return `needs ${SERVICE_HELPERS.get(name)}`;
  let starts;
  for (const { spec, names, local } of importsOf(file)) {
    if (CHILD_PROCESS.has(spec) && !(name && STARTER_NAMES.has(name))) starts ??= `starts a process (${spec})`;
    if (!local) continue;
    const starters = dirname(local) === HELPERS ? STARTER_NAMES.get(basename(local)) : undefined;
    const started = starters && names.find((n) => n === '*' || starters.includes(n));
    if (started) starts ??= `starts a process (${started})`;
    if (starters) continue;
    const found = reason(local, seen);
    if (found?.startsWith('needs')) return found;
    starts ??= found;
  }
  return starts;
}

function testFiles(dir) {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? testFiles(join(dir, e.name)) : e.name.endsWith('.test.ts') ? [join(dir, e.name)] : []))
    .sort();
}

const built = (file) => join('build', relative(ROOT, file)).replace(/\.ts$/, '.js');
const why = process.argv.includes('--why');
const spawning = process.argv.includes('--spawning');
for (const file of testFiles(TEST)) {
  const out = reason(file);
  if (why) console.log(`${out ?? 'fast'}\t${built(file)}`);
  else if (!out || (spawning && out.startsWith('starts'))) console.log(built(file));
}
