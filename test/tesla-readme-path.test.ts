import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, testdir } from './helpers/cli.js';
import { freePort } from './helpers/ports.js';
import { repoRoot, startServer } from './helpers/server.js';
import { startFleetApiStandIn } from './helpers/fleet-api-standin.js';
import { independentVerifyToken } from './helpers/tesla-verify.js';

// Issue #30: the README's "Connect a real Tesla" path, its own commands, against the Fleet API stand-in:
// keys → serve with the public page → register → vehicle-config → push → synced.
t.setTimeout(240_000);

const VIN = '5YJ3E1EA7KF000001';

/** The README's commands of one step (its indented code lines, continuations joined). */
function readmeCommands(readme: string, step: string): string[][] {
  const at = readme.indexOf(`**${step}.`);
  const next = readme.indexOf('\n**', at + 4);
  const block = readme.slice(at, next);
  const lines = block.split('\n').filter((l) => l.startsWith('    node dist/cli.js') || /^\s{6}\S/.test(l));
  return lines
    .join('\n')
    .replace(/ \\\n\s+/g, ' ')
    .split('\n')
    .map((l) =>
      l
        .trim()
        .replace(/^node dist\/cli\.js /, '')
        .replace(/ > \S+$/, '')
        .split(/\s+/),
    );
}

t.test("the README's path runs end to end against the stand-in", async (t) => {
  const readme = readFileSync(join(repoRoot(), 'README.md'), 'utf8');
  t.match(readme, /tested against a local stand-in of Tesla's Fleet API/, 'the README says what these were tested against');
  const dir = testdir(t);
  const run = async (args: string[], env: Record<string, string> = {}) => {
    const r = await runCli(args, dir, { env, killAfterMs: 120_000 });
    t.equal(r.code, 0, `${args.slice(0, 2).join(' ')}: ${r.stdout}${r.stderr}`);
    return r;
  };

  // B. the application key, as the README writes it.
  const [keys] = readmeCommands(readme, 'B');
  t.same(keys, ['tesla', 'keys', '--out', 'keys']);
  await run(keys);
  t.equal(statSync(join(dir, 'keys', 'private-key.pem')).mode & 0o777, 0o600);

  // C. the server with the README's tesla block (its port made free here) and certificates for localhost.
  const block = /"tesla": (\{[^}]+\})/.exec(readme.slice(readme.indexOf('**C.')))![1];
  const tesla = { ...(JSON.parse(block) as { private_key: string; public_key_port: number }) };
  t.equal(tesla.private_key, 'keys/private-key.pem');
  tesla.public_key_port = await freePort();
  await run(['certs', '--hostname', 'localhost', '--out', 'certs']);
  const tls = { server_cert: 'certs/server-localhost-chain.pem', server_key: 'certs/server-localhost.key', ca_file: 'certs/ca.pem' };
  const server = await startServer(dir, { records: { V: ['logger'] }, tls, tesla });
  t.teardown(() => server.stop());
  const config = { host: '127.0.0.1', port: server.port, records: { V: ['logger'] }, tls, tesla };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  const check = await run(['check-config', 'config.json']);
  t.match(check.stdout, /tesla_key: .* fingerprint [0-9a-f]{64}/);

  // The stand-in has the key Tesla would fetch from the page at registration.
  const publicRaw = execFileSync('openssl', ['pkey', '-in', join(dir, 'keys', 'private-key.pem'), '-pubout', '-outform', 'DER']).subarray(-65);
  const api = await startFleetApiStandIn({
    dir,
    accessToken: 'owner-token',
    partnerToken: 'partner-token',
    appPublicRaw: publicRaw,
    clientId: 'ID',
    clientSecret: 'the-secret',
    syncAfterReads: 1,
  });
  t.teardown(() => api.close());
  const env = { NODE_EXTRA_CA_CERTS: api.caFile };
  const toStandIn = (args: string[], auth = false) =>
    args.flatMap((a, i) => (a === '--region' ? ['--api-base', api.base, ...(auth ? ['--auth-base', api.base] : [])] : args[i - 1] === '--region' ? [] : [a]));
  writeFileSync(join(dir, 'secret'), 'the-secret\n', { mode: 0o600 });

  // D. register, as written.
  const [register] = readmeCommands(readme, 'D');
  t.equal(register[1], 'register');
  await run(toStandIn(register, true), env);
  t.same(api.registered, ['app.example.com']);

  // E. login is the test of tesla-login.test.ts (a browser's part); its token file here:
  writeFileSync(join(dir, 'tesla-token.json'), JSON.stringify({ access_token: 'owner-token' }), { mode: 0o600 });

  // G. vehicle-config, then push, as written.
  const [vehicleConfig, push] = readmeCommands(readme, 'G');
  t.same(vehicleConfig.slice(0, 3), ['vehicle-config', '--config', 'config.json']);
  const body = await runCli([...vehicleConfig, '--hostname', 'localhost', '--port', String(server.port)], dir);
  t.equal(body.code, 0, body.stderr);
  writeFileSync(join(dir, 'body.json'), body.stdout);
  const pushed = await run([...toStandIn(push), '--poll', '200ms'], env);
  t.match(pushed.stdout, new RegExp(`^${VIN}: synced$`, 'm'));
  t.match(pushed.stdout, /^all 1 vehicle synced$/m);
  t.same(api.refused, [], 'the stand-in refused nothing on the way');
  const sent = JSON.parse(api.requests.find((q) => q.path === '/api/1/vehicles/fleet_telemetry_config_jws')!.body) as { token: string };
  const claims = independentVerifyToken(sent.token, publicRaw);
  t.ok(claims.valid, 'the config the stand-in got verifies with the registered key');
  t.equal(claims.claims.delivery_policy, 'latest');
  t.equal(claims.claims.port, server.port);
});
