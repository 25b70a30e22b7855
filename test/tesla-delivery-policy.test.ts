import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, testdir } from './helpers/cli.js';
import { startServer } from './helpers/server.js';

// Issue #30 item 7: a car acts on this server's acks only with "delivery_policy": "latest".
const VIN = '5YJ3E1EA7KF000071';

t.setTimeout(180_000);

t.test('vehicle-config sets delivery_policy latest unless told; check-endpoint warns without it', async (t) => {
  const dir = testdir(t);
  const made = await runCli(['certs', '--hostname', 'localhost', '--vin', VIN, '--out', 'dc'], dir);
  t.equal(made.code, 0, made.stderr);
  const tls = {
    server_cert: join(dir, 'dc', 'server-localhost-chain.pem'),
    server_key: join(dir, 'dc', 'server-localhost.key'),
    ca_file: join(dir, 'dc', 'ca.pem'),
  };
  const server = await startServer(dir, { records: { V: ['logger'] }, tls });
  t.teardown(() => server.stop());
  const cfg = join(dir, 'vc.json');
  writeFileSync(cfg, JSON.stringify({ host: '127.0.0.1', port: 0, records: { V: ['logger'] }, tls }));
  const base = ['vehicle-config', '--config', cfg, '--hostname', 'localhost', '--port', String(server.port), '--vin', VIN];

  const def = await runCli(base, dir);
  t.equal(def.code, 0, def.stderr);
  t.equal(JSON.parse(def.stdout).config.delivery_policy, 'latest', 'set by default');
  writeFileSync(join(dir, 'with.json'), def.stdout);

  const without = await runCli([...base, '--no-delivery-policy'], dir);
  t.equal(without.code, 0, without.stderr);
  t.notOk('delivery_policy' in JSON.parse(without.stdout).config, 'left out with --no-delivery-policy');
  t.match(without.stderr, /note: no delivery_policy: the car ignores this server's acks/, 'and the owner is told what that costs');
  writeFileSync(join(dir, 'without.json'), without.stdout);

  const okRun = await runCli(['check-endpoint', 'with.json'], dir);
  t.equal(okRun.code, 0, okRun.stdout + okRun.stderr);
  t.match(okRun.stdout, /^ok\s+delivery_policy: latest/m);

  const warnRun = await runCli(['check-endpoint', 'without.json'], dir);
  t.equal(warnRun.code, 0, 'a warning, not a failure');
  t.match(warnRun.stdout, /^warn\s+delivery_policy: no delivery_policy: the car ignores this server's acks .*set "delivery_policy": "latest"/m);

  const other = JSON.parse(def.stdout);
  other.config.delivery_policy = 'all';
  writeFileSync(join(dir, 'other.json'), JSON.stringify(other));
  const otherRun = await runCli(['check-endpoint', 'other.json'], dir);
  t.match(otherRun.stdout, /^warn\s+delivery_policy: delivery_policy "all": /m, 'another value is named');

  const { hostname, port, ca } = JSON.parse(def.stdout).config;
  writeFileSync(join(dir, 'validate_server.json'), JSON.stringify({ hostname, port, ca }));
  const validate = await runCli(['check-endpoint', 'validate_server.json'], dir);
  t.equal(validate.code, 0, validate.stdout);
  t.notMatch(validate.stdout, /delivery_policy/, "Tesla's validate_server.json is not a vehicle config: no such line");
});
