import t from 'tap';
import { runCli, STACK, testdir } from './helpers/cli.js';
import { join } from 'node:path';
import { createCa, issueCert, type KeyPairPem } from '../src/tls/dev-certs.js';

// Relative paths in a config resolve from the config file's folder; Tesla's server resolves them
// from its working directory. A missing TLS file must show the path as written, the path it was
// looked for at, and that rule, in check-config and in serve's start error alike.

t.setTimeout(120_000);

let root: KeyPairPem;
let leaf: KeyPairPem;

t.before(async () => {
  root = await createCa({ commonName: 'Paths Test Root' });
  leaf = await issueCert(root, { commonName: 'localhost', kind: 'server', dnsNames: ['localhost'] });
});

const config = JSON.stringify({
  host: '127.0.0.1',
  port: 0,
  records: { V: ['logger'] },
  tls: { server_cert: 'certs/server.pem', server_key: 'certs/server.key', ca_file: 'certs/ca.pem' },
});

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

t.test("a config written for Tesla's server: files beside the working directory, not the config", async (t) => {
  // cwd/certs/* exist; the config is in cwd/etc/, so its relative paths point at cwd/etc/certs/*.
  const cwd = testdir(t, { certs: { 'server.pem': leaf.certPem, 'server.key': leaf.keyPem, 'ca.pem': root.certPem }, etc: { 'config.json': config } });
  const folder = join(cwd, 'etc');
  const rule = `relative paths resolve from the config file's folder, ${folder}`;

  const r = await runCli(['check-config', 'etc/config.json'], cwd);
  t.equal(r.code, 1, r.stdout + r.stderr);
  for (const [check, file] of [
    ['server_cert', 'server.pem'],
    ['server_key', 'server.key'],
    ['ca_file', 'ca.pem'],
  ]) {
    const line = r.stdout.split('\n').find((l) => l.startsWith(`fail  ${check}: `)) ?? '';
    t.match(
      line,
      new RegExp(`^fail  ${check}: certs/${esc(file)}: cannot read: no such file at ${esc(join(folder, 'certs', file))}; ${esc(rule)}`),
      `${check}: written, resolved, the rule`,
    );
    t.ok(
      line.includes(`(${join(cwd, 'certs', file)} exists: Tesla's server resolves paths from its working directory`),
      `${check}: names the file that exists from the working directory`,
    );
  }
  t.match(r.stdout, new RegExp(`^ok    paths: ${esc(rule)}`, 'm'));
  t.notMatch(r.stdout + r.stderr, STACK);

  const s = await runCli(['serve', '--config', 'etc/config.json'], cwd);
  t.equal(s.code, 2, 'serve refuses to start');
  t.match(
    s.stderr,
    new RegExp(
      `cannot start: TLS check failed:\\nfail  server_cert: certs/server\\.pem: cannot read: no such file at ${esc(join(folder, 'certs', 'server.pem'))}; ${esc(rule)}`,
    ),
  );
});

t.test('files where the rule says: each TLS line shows the path as written and resolved', async (t) => {
  const cwd = testdir(t, { etc: { certs: { 'server.pem': leaf.certPem, 'server.key': leaf.keyPem, 'ca.pem': root.certPem }, 'config.json': config } });
  const folder = join(cwd, 'etc');
  const r = await runCli(['check-config', 'etc/config.json'], cwd);
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.match(r.stdout, new RegExp(`^ok    server_cert: certs/server\\.pem \\(${esc(join(folder, 'certs', 'server.pem'))}\\): 1 certificate`, 'm'));
  t.match(r.stdout, new RegExp(`^ok    server_key: certs/server\\.key \\(${esc(join(folder, 'certs', 'server.key'))}\\) matches the server certificate`, 'm'));
  t.match(r.stdout, new RegExp(`^ok    ca_file: certs/ca\\.pem \\(${esc(join(folder, 'certs', 'ca.pem'))}\\): 1 CA certificate`, 'm'));
});
