// Runs built tap test files as plain `node FILE`, a few at a time, and prints one TAP stream in
// the shape tap's "tap" reporter prints (each file a subtest), for scripts/tap-summary.mjs.
// Without tap's runner a file costs its own run and no more: the runner's start-up and loaders
// cost more than most of these files. A file fails on a failing assertion and also on a non-zero
// exit, a signal or a timeout; it then ends with its stderr. The closing counts add up each file's
// own "# { total: ... }" line, as tap's runner does, a failed file counting one failure more.
// Exit 1 when any file failed. With --times FILE the files start slowest first by the times that
// FILE kept from the run before (new files first of all), so a slow file does not start last and
// run alone; the run then writes its own times there.
//   node scripts/run-tests.mjs [--jobs N] [--timeout SECONDS] [--times FILE] FILE...
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';

const { values, positionals: files } = parseArgs({
  allowPositionals: true,
  options: { jobs: { type: 'string', default: String(availableParallelism()) }, timeout: { type: 'string', default: '240' }, times: { type: 'string' } },
});
const jobs = Math.max(1, Number(values.jobs));
const timeoutMs = Number(values.timeout) * 1000;

/** Runs one file; resolves to its stdout, stderr, exit code or signal, and milliseconds. */
function run(file) {
  const started = performance.now();
  // tap reads its per-test timeout from TAP_TIMEOUT, as its runner would pass it.
  const child = spawn(process.execPath, [file], { env: { ...process.env, TAP_TIMEOUT: values.timeout }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = [];
  const err = [];
  child.stdout.on('data', (b) => out.push(b));
  child.stderr.on('data', (b) => err.push(b));
  // A file that outlives its own timeouts is stopped, so the run always ends.
  const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs + 30_000);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      resolve({ stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), code, signal, ms: performance.now() - started });
    });
  });
}

const indent = (text, prefix) =>
  text
    .replace(/\n$/, '')
    .split('\n')
    .map((line) => prefix + line)
    .join('\n');

/** The file as a subtest; a failed file's line carries no "# time=", so the summary counts it. */
function report(n, file, r) {
  const lines = ['# Subtest: ' + file];
  if (r.stdout) lines.push(indent(r.stdout, '    '));
  const ok = r.code === 0 && !/^\s*not ok \d+/m.test(r.stdout);
  if (ok) lines.push(`ok ${n} - ${file} # time=${r.ms.toFixed(0)}ms`);
  else {
    lines.push(`not ok ${n} - ${file} # ${r.signal ? 'signal ' + r.signal : 'exit code ' + r.code}`);
    if (r.stderr) lines.push(indent(r.stderr, '  # '));
  }
  return { ok, text: lines.join('\n') };
}

/** Milliseconds per file from the run before; empty when there was none. */
function previousTimes(path) {
  try {
    return new Map(Object.entries(JSON.parse(readFileSync(path, 'utf8'))));
  } catch {
    return new Map();
  }
}

const before = values.times ? previousTimes(values.times) : new Map();
const order = files.map((_, i) => i).sort((a, b) => (before.get(files[b]) ?? Infinity) - (before.get(files[a]) ?? Infinity));

console.log('TAP version 14');
const results = new Array(files.length);
const waiting = new Array(files.length);
let next = 0;
async function worker() {
  while (next < files.length) {
    const i = order[next++];
    results[i] = await run(files[i]);
    waiting[i]?.();
  }
}
const workers = Array.from({ length: Math.min(jobs, files.length) }, worker);

/** A file's closing counts, `# { total: 3, pass: 2, fail: 1 }`, as a map; empty when it printed none. */
function countsOf(stdout) {
  const line = /^# \{ total: .*\}$/m.exec(stdout)?.[0] ?? '';
  return new Map([...line.matchAll(/(\w+): (\d+)/g)].map((m) => [m[1], Number(m[2])]));
}

// Printed in the order given, each as soon as it and those before it are done.
let failed = 0;
const totals = new Map([
  ['total', 0],
  ['pass', 0],
  ['fail', 0],
]);
for (let i = 0; i < files.length; i++) {
  if (!results[i]) await new Promise((resolve) => (waiting[i] = resolve));
  const { ok, text } = report(i + 1, files[i], results[i]);
  if (!ok) failed++;
  for (const [key, n] of countsOf(results[i].stdout)) totals.set(key, (totals.get(key) ?? 0) + n);
  if (!ok) for (const key of ['total', 'fail']) totals.set(key, totals.get(key) + 1);
  console.log(text);
}
await Promise.all(workers);
if (values.times) writeFileSync(values.times, JSON.stringify(Object.fromEntries(files.map((f, i) => [f, Math.round(results[i].ms)]))));
console.log(`1..${files.length}`);
if (failed) console.log(`# ${failed} of ${files.length} files failed`);
console.log(`# { ${[...totals].map(([key, n]) => `${key}: ${n}`).join(', ')} }`);
process.exitCode = failed ? 1 : 0;
