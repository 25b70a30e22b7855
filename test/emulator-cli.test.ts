import t from 'tap';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { emulatorVin } from '../src/emulator/index.js';
import { freePort, waitUntil } from './helpers/ports.js';
import { CLI, startServer } from './helpers/server.js';

// The CLI end to end: certificates from `certs` accepted by `serve`, `emulate` run as a child
// process reading a server config (summary as JSON and as text, exit codes), and `subscribe`
// printing what a subscriber sees.

function run(args: string[], opts: { timeoutMs?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    p.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`${args[0]} did not finish: ${stderr}`));
    }, opts.timeoutMs ?? 30_000);
    p.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

t.test('CLI: certs → serve → emulate --json, and subscribe', async (t) => {
  const dir = t.testdir();
  const certDir = join(dir, 'certs');
  const made = await run(['certs', '--out', certDir]);
  t.equal(made.code, 0, 'certs');
  const config = {
    records: { V: ['mqtt'] },
    tls: { server_cert: join(certDir, 'server.pem'), server_key: join(certDir, 'server.key'), ca_file: join(certDir, 'ca.pem') },
    mqtt: { broker: 'embedded', embedded_port: 0, topic_base: 'telemetry', qos: 1 },
  };
  const server = await startServer(dir, config);
  t.teardown(() => server.stop());

  // subscribe prints what a subscriber sees; 3 vehicles × 15 V frames → 45 Soc publishes.
  const sub = spawn(process.execPath, [CLI, 'subscribe', 'telemetry/+/v/Soc', '--broker', `127.0.0.1:${server.brokerPort}`, '--count', '45'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let subOut = '';
  let subErr = '';
  sub.stdout.setEncoding('utf8').on('data', (c: string) => (subOut += c));
  sub.stderr.setEncoding('utf8').on('data', (c: string) => (subErr += c));
  const subExit = new Promise<number | null>((r) => sub.once('exit', r));
  t.teardown(() => sub.kill());
  // Until it says so or exits, not a fixed time: a CLI process starting on a busy machine took over 10 s.
  await waitUntil(() => subErr.includes('subscribed to') || sub.exitCode !== null || sub.signalCode !== null, Infinity, 'subscribe to connect');
  if (!subErr.includes('subscribed to')) throw new Error(`subscribe exited before it subscribed: ${subErr}`);

  // The emulator reads host, port and CA from a server config; vehicle 1's certificate is the
  // one `certs` wrote, the others are issued from the same CA on the fly.
  const emuConfig = join(dir, 'emulate-config.json');
  writeFileSync(emuConfig, JSON.stringify({ ...config, host: '127.0.0.1', port: server.port }));
  const emu = await run([
    'emulate',
    '--config',
    emuConfig,
    '--vehicles',
    '3',
    '--frames',
    '15',
    '--rate',
    '30',
    '--fields',
    '6',
    '--alerts-every',
    '0',
    '--errors-every',
    '0',
    '--progress',
    '0.2',
    '--json',
  ]);
  t.equal(emu.code, 0, 'emulate exits 0');
  if (emu.code !== 0) t.comment(emu.stderr);
  const s = JSON.parse(emu.stdout);
  t.equal(s.totals.sent, 45);
  t.equal(s.totals.acked, s.totals.sent, 'sent == acked');
  t.equal(s.ok, true);
  t.match(emu.stderr, /emulating 3 vehicles → wss:\/\/127\.0\.0\.1:\d+\//);
  t.match(emu.stderr, /connected\s+sent \d+\s+acked \d+/, 'progress lines on stderr');
  t.ok(
    server.logs.some((l) => l.event === 'vehicle_connected' && l.vin === emulatorVin(1)),
    'the certs-made vehicle connected',
  );

  t.equal(await subExit, 0, 'subscribe exits after --count publishes');
  const lines = subOut.trim().split('\n');
  t.equal(lines.length, 45);
  t.ok(
    lines.every((l) => /^\d{4}-\d\d-\d\dT[\d:.]+Z telemetry\/5YJ3E1EA7KF00000[123]\/v\/Soc \{"value":[\d.]+\}$/.test(l)),
    lines[0],
  );

  // Exit 1 when frames did not end acked: nobody listens on this port. The text summary says why.
  const none = await run([
    'emulate',
    '--url',
    `127.0.0.1:${await freePort()}`,
    '--cert-dir',
    certDir,
    '--frames',
    '2',
    '--rate',
    '20',
    '--drain-timeout',
    '0.5',
    '--progress',
    '0',
  ]);
  t.equal(none.code, 1, 'exit 1 with frames unacked');
  t.match(
    none.stdout,
    /^record\s+generated\s+sent\s+acked\s+errored\s+resent\s+expired\s+gave_up\s+dropped\s+pending\s+p50 ms\s+p99 ms$/m,
    'a table by record type',
  );
  t.match(none.stdout, /^total\s+2\s+0\s+0\s+0\s+0\s+0\s+0\s+0\s+2\s+-\s+-$/m);
  t.match(none.stdout, /connections: 0 opened, \d+ failed attempts, 0 lost \(last failure: connect ECONNREFUSED/);
  t.match(none.stdout, /result: FAILED, 0 of 2 frames acked \(2 pending\)/);
});
