import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConnectFailureReport } from '../src/emulator/connect-failures.js';
import { issueCert } from '../src/tls/dev-certs.js';
import { runCli, testdir } from './helpers/cli.js';
import { makePki } from './helpers/pki.js';
import { startServer } from './helpers/server.js';

// A connection that keeps failing is said while the emulator retries: one line per reason (with the
// vehicles it hit), then only a count in the progress lines, and every reason in the summary.

t.test('ConnectFailureReport: a reason is said once, later attempts only counted', async (t) => {
  const r = new ConnectFailureReport(2);
  t.equal(r.note('A', 'refused'), true, 'new reason');
  t.equal(r.note('B', 'refused'), true, 'not said yet');
  t.same(r.takeNew(3), ['cannot connect (2 of 3 vehicles): refused; retrying, further failures are counted as "failed connects" in the progress lines']);
  t.equal(r.note('A', 'refused'), false, 'said already');
  t.same(r.takeNew(3), [], 'nothing new');
  t.equal(r.note('C', 'timeout'), true);
  t.match(r.takeNew(1), [/^cannot connect \(the vehicle\): timeout;/]);
  t.equal(r.note('C', 'a third reason'), false, 'past the cap: counted, never said');
  t.same(r.takeNew(3), []);
  t.equal(r.attempts, 5);
});

t.test('emulate toward a server certificate for another name: the reason while it retries', async (t) => {
  const dir = testdir(t);
  const pki = await makePki(dir);
  // The server's certificate covers another name only: 127.0.0.1 in the URL does not match it.
  const other = await issueCert(pki.ca, { commonName: 'elsewhere.example', kind: 'server', dnsNames: ['elsewhere.example'] });
  writeFileSync(join(dir, 'other.pem'), other.certPem);
  writeFileSync(join(dir, 'other.key'), other.keyPem);
  writeFileSync(join(dir, 'ca.key'), pki.ca.keyPem);
  const server = await startServer(dir, {
    records: { V: ['logger'] },
    tls: { server_cert: join(dir, 'other.pem'), server_key: join(dir, 'other.key'), ca_file: pki.caFile },
  });
  t.teardown(() => server.stop());

  const r = await runCli(
    [
      'emulate',
      '--url',
      `wss://127.0.0.1:${server.port}/`,
      '--ca',
      pki.caFile,
      '--cert-dir',
      dir,
      '--vehicles',
      '2',
      '--duration',
      '3',
      '--rate',
      '2',
      '--backoff-ms',
      '50',
      '--backoff-max-ms',
      '100',
      '--progress',
      '0.5',
      '--drain-timeout',
      '0.5',
    ],
    dir,
  );
  t.equal(r.code, 1, 'exit 1: nothing acked');
  const said = r.stderr.split('\n').filter((l) => l.startsWith('cannot connect'));
  t.equal(said.length, 1, `one line for the one reason:\n${r.stderr}`);
  t.match(said[0], /^cannot connect \([12] of 2 vehicles\): Hostname\/IP does not match certificate's altnames: IP: 127\.0\.0\.1 is not in the cert's list/);
  const counts = [...r.stderr.matchAll(/failed connects (\d+)/g)].map((m) => Number(m[1]));
  t.ok(counts.length >= 2, `the progress lines count the failures (${counts.join(', ')})`);
  t.ok(counts[counts.length - 1] > 2, 'more failed attempts than lines saying why');
  t.same(
    [...counts].sort((a, b) => a - b),
    counts,
    'the count only grows',
  );
  const total = Number(/connections: 0 opened, (\d+) failed attempts/.exec(r.stdout)?.[1]);
  t.ok(total >= counts[counts.length - 1], 'the summary counts them all');
  t.match(
    r.stdout,
    new RegExp(`failed connection attempts:\\n  ${total}× Hostname/IP does not match certificate's altnames`),
    'the summary lists each reason with its count',
  );
});
