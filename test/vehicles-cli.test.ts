import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FleetListing } from '../src/cli/fleet-listing.js';
import { CLI, runCli, STACK, testdir } from './helpers/cli.js';
import { fleetFixture } from './helpers/fleet-fixture.js';
import { freePort, trackChild } from './helpers/ports.js';

// `fleet-telemetry vehicles` (issue #23) run as a user runs it. The server here is a STAND-IN for
// the contract of GET /api/fleet (fleet-api.md), answering fixture JSON, until the real endpoint
// is merged; vehicles-cli-server.test.ts runs the same command against the real server.

interface StandIn {
  url: string;
  port: number;
  requests: () => number;
  close(): Promise<void>;
}

/** CONTRACT STAND-IN for the monitoring port: GET /api/fleet answers `body(n)` for the n-th request. */
async function contractStandIn(t: Test, body: (n: number) => FleetListing | { status: number; text: string }): Promise<StandIn> {
  let n = 0;
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url !== '/api/fleet') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    const b = body(n++);
    if ('status' in b) res.writeHead(b.status, { 'content-type': 'text/plain' }).end(b.text);
    else res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(b) + '\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  t.teardown(close);
  return { url: `http://127.0.0.1:${port}`, port, requests: () => n, close };
}

/** Runs the CLI on a pseudo-terminal (util-linux `script`) of the given size: what a person sees. */
function runInTerminal(args: string[], cwd: string, opts: { env?: Record<string, string>; cols?: number; killAfterMs?: number; untilOut?: RegExp } = {}) {
  const quoted = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const env: NodeJS.ProcessEnv = { ...process.env, TERM: 'xterm', ...opts.env };
  if (!opts.env?.NO_COLOR) delete env.NO_COLOR;
  const child = spawn('script', ['-qec', `stty cols ${opts.cols ?? 100} rows 30; exec ${quoted}`, '/dev/null'], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
  trackChild(child);
  let out = '';
  let signalled = false;
  const guard = setTimeout(() => child.kill('SIGKILL'), opts.killAfterMs ?? 30_000);
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (!signalled && opts.untilOut?.test(out)) {
      signalled = true;
      child.stdin.write('\x03'); // ^C on the terminal: SIGINT to the command, as a person stops it
    }
  });
  return new Promise<{ code: number | null; out: string }>((resolve) =>
    child.on('close', (code) => {
      clearTimeout(guard);
      resolve({ code, out });
    }),
  );
}

const ANSI = /\x1b\[[0-9;]*[A-Za-z]/;

t.test('one look: the health line and every vehicle, no colour into a pipe, exit 0', async (t) => {
  const dir = testdir(t);
  const api = await contractStandIn(t, () => fleetFixture());
  const r = await runCli(['vehicles', '--url', api.url], dir);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stderr, '');
  t.notMatch(r.stdout, ANSI, 'not a terminal: no escape sequences');
  t.match(r.stdout, /^2\/3 connected · 12\.5 frames\/s · 250 fields\/s · 1234 acked · 2 unanswered · 0 errors · broker connected · ready · 4 in flight\n\n/);
  t.match(r.stdout, /\n5YJ3E7EB2NF000001  Red Car +connected +1s ago +42 +840 +81\.5% +52 +D +Disconnected +92\n/);
  t.match(r.stdout, /\n5YJ3E7EB2NF000002  A very long vehicle name that goes on and on  disconnected 5m 10s ago  5m 20s ago /);
  t.match(r.stdout, /\n5YJ3E7EB2NF000003  - +connected +never /);
  t.equal(api.requests(), 1, 'one request, no watching');

  const narrow = await runCli(['vehicles', '--url', `127.0.0.1:${api.port}`], dir, { env: { COLUMNS: '72' } });
  t.equal(narrow.code, 0);
  const long = narrow.stdout.split('\n').filter((l) => [...l].length > 72);
  t.same(long, [], 'COLUMNS=72 into a pipe: no line wider');
  t.match(narrow.stdout, /  A ve[^…]{0,6}…  /, 'the name column was cut');
});

t.test('--json prints the body as served', async (t) => {
  const dir = testdir(t);
  const api = await contractStandIn(t, () => fleetFixture());
  const r = await runCli(['vehicles', '--url', api.url, '--json'], dir);
  t.equal(r.code, 0);
  t.same(JSON.parse(r.stdout), fleetFixture());
  t.equal(r.stdout.trim().split('\n').length, 1, 'one line');
});

t.test('--watch into a pipe: fresh snapshots a blank line apart until SIGTERM, exit 0; a lost server is retried', async (t) => {
  const dir = testdir(t);
  const api = await contractStandIn(t, (n) => {
    if (n === 2) return { status: 500, text: 'boom' };
    const b = fleetFixture();
    b.at += n * 1000;
    b.vehicles[0].frames = 100 + n;
    return b;
  });
  const snapshots = (s: string) => s.split('\n\n').filter((x) => x.startsWith('at ')).length;
  const r = await runCli(['vehicles', '--url', api.url, '--watch', '--interval', '0.2'], dir, { until: (s) => snapshots(s) >= 3 });
  t.equal(r.code, 0, 'SIGTERM ends the watch with 0');
  const parts = r.stdout.split(/\n(?=at )/);
  t.ok(parts.length >= 3, 'three snapshots');
  t.match(parts[0], /^at 2025-11-30T19:13:20\.000Z\n2\/3 connected/, 'each snapshot starts with the time of its answer');
  t.match(parts[1], /^at 2025-11-30T19:13:21\.000Z\n/);
  t.match(r.stdout, /[^\n]\n\nat 2025-11-30T19:13:21\.000Z\n/, 'a blank line between snapshots');
  t.match(parts[0], / 100 +840 /, 'first: 100 frames');
  t.match(parts[1], / 101 +840 /, 'refreshed: 101 frames');
  t.match(parts[2], / 103 +840 /, 'the failed third request was retried');
  t.match(r.stderr, new RegExp(`cannot reach the monitoring port at ${api.url}/api/fleet: answered 500.*; retrying every 0\\.2 s`));
  t.notMatch(r.stdout, ANSI);
});

t.test('--json --watch: one body per line', async (t) => {
  const dir = testdir(t);
  const api = await contractStandIn(t, () => fleetFixture());
  const r = await runCli(['vehicles', '--url', api.url, '--json', '--watch', '--interval', '0.1'], dir, { until: (s) => s.split('\n').length > 2 });
  t.equal(r.code, 0);
  const bodies = r.stdout.trim().split('\n');
  t.ok(bodies.length >= 2);
  for (const b of bodies) t.same(JSON.parse(b), fleetFixture());
});

t.test('on a terminal: colours, fitted to its width; NO_COLOR and --no-color turn colours off', async (t) => {
  const dir = testdir(t);
  const api = await contractStandIn(t, () => fleetFixture());
  const r = await runInTerminal(['vehicles', '--url', api.url], dir, { cols: 90 });
  t.equal(r.code, 0, r.out);
  t.match(r.out, '\x1b[32mconnected', 'connected in green');
  t.match(r.out, '\x1b[33mdisconnected 5m 10s ago', 'disconnected in yellow');
  const visible = r.out.replace(/\x1b\[[0-9;]*m/g, '').split(/\r?\n/);
  t.same(
    visible.filter((l) => [...l].length > 90),
    [],
    'no line wider than the 90-column terminal',
  );
  t.match(visible.join('\n'), /\n5YJ3E7EB2NF000002  A ve[^…]{0,6}…  disconnected/, 'the long name cut to fit');
  for (const [what, args, env] of [
    ['NO_COLOR=1', [], { NO_COLOR: '1' }],
    ['--no-color', ['--no-color'], {}],
  ] as const) {
    const plain = await runInTerminal(['vehicles', '--url', api.url, ...args], dir, { env });
    t.equal(plain.code, 0);
    t.match(plain.out, /5YJ3E7EB2NF000001/);
    t.notMatch(plain.out, ANSI, `${what}: no escape sequences`);
  }
});

t.test('a terminal that reports 0 columns: the table as without a width, not blank lines', async (t) => {
  const dir = testdir(t);
  const api = await contractStandIn(t, () => fleetFixture());
  const r = await runInTerminal(['vehicles', '--url', api.url, '--no-color'], dir, { cols: 0 });
  t.equal(r.code, 0, r.out);
  const lines = r.out.split(/\r?\n/);
  t.match(r.out, /\n5YJ3E7EB2NF000001 /, 'the first vehicle on its own line');
  t.match(r.out, /\n5YJ3E7EB2NF000002 /, 'the second too');
  t.match(r.out, /\nVIN +NAME +STATE/, 'the header row');
  t.equal(lines.slice(0, -1).filter((l) => l.trim() === '').length, 1, 'one blank line: between the health line and the table');
});

t.test('--watch on a terminal redraws in place until ^C, exit 0', async (t) => {
  const dir = testdir(t);
  const api = await contractStandIn(t, () => fleetFixture());
  const homes = (s: string) => s.split('\x1b[H').length - 1;
  const r = await runInTerminal(['vehicles', '--url', api.url, '--watch', '--interval', '0.2'], dir, { untilOut: /(\x1b\[H[^]*){3}/ });
  t.equal(r.code, 0, 'interrupted: 0');
  t.equal(r.out.split('\x1b[2J').length - 1, 1, 'the screen is cleared once, at the start');
  t.ok(homes(r.out) >= 3, 'each refresh starts at the top left');
  t.match(r.out, new RegExp(`\\x1b\\[H\\x1b\\[2m${api.url.replace(/[.:/]/g, '\\$&')}/api/fleet · every 0\\.2 s · `), 'a title line naming what is watched');
  t.match(r.out, /\x1b\[K/, 'lines are cleared to their end (a shorter line leaves nothing behind)');
});

t.test('nothing listens: exit 1 naming the URL and how to enable monitoring', async (t) => {
  const dir = testdir(t);
  const port = await freePort();
  for (const extra of [[], ['--watch']]) {
    const r = await runCli(['vehicles', '--url', `http://127.0.0.1:${port}`, ...extra], dir);
    t.equal(r.code, 1, `exit 1 ${extra.join(' ')}`);
    t.equal(r.stdout, '');
    t.match(r.stderr, `vehicles: cannot reach the monitoring port at http://127.0.0.1:${port}/api/fleet: connection refused`);
    t.match(r.stderr, /monitoring\.prometheus_metrics_port/);
    t.notMatch(r.stderr, STACK);
  }
});

t.test('a server without the fleet view, or something else on the port: exit 1 saying so', async (t) => {
  const dir = testdir(t);
  const cases: [{ status: number; text: string }, RegExp][] = [
    [{ status: 404, text: 'not found' }, /answered 404: no fleet view there/],
    [{ status: 200, text: '<html>' }, /the answer is not JSON/],
    [{ status: 200, text: '{"count":0,"vehicles":[]}' }, /not a fleet view: "at" is not a number/],
  ];
  for (const [answer, why] of cases) {
    const api = await contractStandIn(t, () => answer);
    const r = await runCli(['vehicles', '--url', api.url], dir);
    t.equal(r.code, 1);
    t.match(r.stderr, why);
  }
});

t.test('--config: the monitoring port from the server config', async (t) => {
  const dir = testdir(t);
  const api = await contractStandIn(t, () => fleetFixture());
  const config = (monitoring: Record<string, unknown>) => {
    const file = join(dir, `c-${Math.random().toString(36).slice(2, 8)}.json`);
    writeFileSync(file, JSON.stringify({ tls: { server_cert: 's.pem', server_key: 's.key', ca_file: 'ca.pem' }, records: { V: ['logger'] }, monitoring }));
    return file;
  };
  const ok = await runCli(['vehicles', '--config', config({ prometheus_metrics_port: api.port, host: '0.0.0.0' })], dir);
  t.equal(ok.code, 0, ok.stderr);
  t.match(ok.stdout, /5YJ3E7EB2NF000001  Red Car/, 'read through the port the config names (every interface: loopback)');

  const none = config({});
  const off = await runCli(['vehicles', '--config', none], dir);
  t.equal(off.code, 1);
  t.match(off.stderr, `vehicles: ${none} sets no monitoring.prometheus_metrics_port`);

  const any = await runCli(['vehicles', '--config', config({ prometheus_metrics_port: 0 })], dir);
  t.equal(any.code, 2);
  t.match(any.stderr, /any free port\): pass --url/);

  writeFileSync(join(dir, 'bad.json'), '{"records": 1}');
  const bad = await runCli(['vehicles', '--config', join(dir, 'bad.json')], dir);
  t.equal(bad.code, 2, 'an invalid config: 2');
  t.notMatch(bad.stderr, STACK);
});

t.test('usage errors exit 2 with the usage; --help exits 0', async (t) => {
  const dir = testdir(t);
  const cases: [string[], RegExp][] = [
    [['--interval', '1'], /--interval needs --watch/],
    [['--watch', '--interval', '0'], /--interval needs a number of seconds/],
    [['--watch', '--interval', 'soon'], /--interval needs a number of seconds/],
    [['--bogus'], /unknown option --bogus/],
    [['extra'], /unexpected argument extra/],
    [['--url', 'http://127.0.0.1:1', '--config', 'c.json'], /give --config or --url, not both/],
    [['--url', 'ftp://x'], /speaks http, not ftp/],
  ];
  for (const [args, why] of cases) {
    const r = await runCli(['vehicles', ...args], dir);
    t.equal(r.code, 2, args.join(' '));
    t.match(r.stderr, why);
    t.match(r.stderr, /usage: fleet-telemetry vehicles/);
  }
  const help = await runCli(['vehicles', '--help'], dir);
  t.equal(help.code, 0);
  t.match(help.stdout, /--watch .*\n.*\n +--interval S/);
  const top = await runCli(['help'], dir);
  t.match(top.stdout, /\n {2}vehicles +the fleet table from the monitoring port/);
});
