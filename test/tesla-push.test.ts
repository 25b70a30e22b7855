import t from 'tap';
import type { Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, runCli, STACK, testdir } from './helpers/cli.js';
import { freePort } from './helpers/ports.js';
import { startServer, type ServerProcess } from './helpers/server.js';
import { startFleetApiStandIn, type StandIn, type StandInOptions } from './helpers/fleet-api-standin.js';
import { independentVerifyToken } from './helpers/tesla-verify.js';

// Issue #30 item 4: tesla push / tesla status against a stand-in of Tesla's Fleet API.
const VIN1 = '5YJ3E1EA7KF000041';
const VIN2 = '5YJ3E1EA7KF000042';
const VIN3 = '5YJ3E1EA7KF000043';
const ACCESS = 'owner-access-token-1d2c3b4a';
const PARTNER = 'partner-token-9f8e7d6c';

t.setTimeout(240_000);

interface World {
  dir: string;
  server: ServerProcess;
  configFile: string;
  publicRaw: Buffer;
  body(vins: string[]): string;
  standIn(o?: Partial<StandInOptions>): Promise<StandIn>;
  push(api: StandIn, args: string[]): ReturnType<typeof runCli>;
}

/** keys → serve with the public page → vehicle-config: what the owner has before pushing. */
async function world(t: Test): Promise<World> {
  const dir = testdir(t);
  const made = await runCli(['certs', '--hostname', 'localhost', '--out', 'dc'], dir);
  t.equal(made.code, 0, made.stderr);
  const keys = await runCli(['tesla', 'keys', '--out', 'keys'], dir);
  t.equal(keys.code, 0, keys.stderr);
  const tls = {
    server_cert: join(dir, 'dc', 'server-localhost-chain.pem'),
    server_key: join(dir, 'dc', 'server-localhost.key'),
    ca_file: join(dir, 'dc', 'ca.pem'),
  };
  const tesla = { private_key: join(dir, 'keys', 'private-key.pem'), public_key_port: await freePort() };
  const server = await startServer(dir, { records: { V: ['logger'] }, tls, tesla });
  t.teardown(() => server.stop());
  const configFile = join(dir, 'server.json');
  writeFileSync(configFile, JSON.stringify({ host: '127.0.0.1', port: server.port, records: { V: ['logger'] }, tls, tesla }));
  const publicRaw = execFileSync('openssl', ['pkey', '-in', tesla.private_key, '-pubout', '-outform', 'DER']).subarray(-65);
  const bodies = new Map<string, string>();
  return {
    dir,
    server,
    configFile,
    publicRaw,
    body(vins) {
      const key = vins.join(',');
      if (!bodies.has(key)) {
        const file = join(dir, `body-${bodies.size}.json`);
        const args = ['vehicle-config', '--config', configFile, '--hostname', 'localhost', '--port', String(server.port), ...vins.flatMap((v) => ['--vin', v])];
        const out = execFileSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
        writeFileSync(file, out);
        bodies.set(key, file);
      }
      return bodies.get(key)!;
    },
    async standIn(o = {}) {
      const s = await startFleetApiStandIn({ dir, accessToken: ACCESS, partnerToken: PARTNER, appPublicRaw: publicRaw, ...o });
      t.teardown(() => s.close());
      return s;
    },
    push(api, args) {
      writeFileSync(join(dir, 'token'), `${ACCESS}\n`, { mode: 0o600 });
      writeFileSync(join(dir, 'partner-token'), JSON.stringify({ access_token: PARTNER, token_type: 'Bearer' }), { mode: 0o600 });
      return runCli(['tesla', 'push', '--api-base', api.base, '--token-file', 'token', '--partner-token-file', 'partner-token', ...args], dir, {
        env: { NODE_EXTRA_CA_CERTS: api.caFile },
        killAfterMs: 120_000,
      });
    },
  };
}

t.test('push: checks, signs, POSTs as Tesla documents, waits until synced, shows the errors; status reads it back', async (t) => {
  const w = await world(t);
  const api = await w.standIn({
    syncAfterReads: 2,
    errors: [
      { vin: VIN1, name: 'tls_handshake', error: 'x509: unknown authority', created_at: '2026-01-01T00:00:00Z' },
      { vin: VIN3, name: 'other', error: 'not ours' },
    ],
  });
  const bodyFile = w.body([VIN1]);
  const r = await w.push(api, ['--body', bodyFile, '--config', w.configFile, '--poll', '200ms', '--wait', '60s']);
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.same(api.refused, [], 'the stand-in refused nothing');
  t.match(r.stdout, /^endpoint: localhost:\d+ serves a chain the config's ca verifies$/m);
  t.match(r.stdout, /^public key page: https:\/\/127\.0\.0\.1:\d+\/\.well-known\/appspecific\/com\.tesla\.3p\.public-key\.pem serves the signing key$/m);
  t.match(r.stdout, /^pushed: 1 vehicle updated$/m);
  t.match(r.stdout, new RegExp(`^${VIN1}: synced$`, 'm'));
  t.match(r.stdout, new RegExp(`^${VIN1} error: 2026-01-01T00:00:00Z tls_handshake x509: unknown authority$`, 'm'), "the VIN's errors");
  t.notMatch(r.stdout, /not ours/, "another car's errors are not shown");
  t.match(r.stdout, /^all 1 vehicle synced$/m);
  t.match(r.stderr, /^waiting for sync: 0 of 1 synced, not yet: 5YJ3E1EA7KF000041 \(0:\d\d of 1:00\)$/m, 'a progress line');
  t.notMatch(r.stdout + r.stderr, ACCESS, 'the access token is never printed');
  t.notMatch(r.stdout + r.stderr, PARTNER, 'nor the partner token');
  t.notMatch(r.stdout + r.stderr, readFileSync(join(w.dir, 'keys', 'private-key.pem'), 'utf8').split('\n')[1], 'nor the private key');

  const post = api.requests.filter((q) => q.method === 'POST');
  t.equal(post.length, 1, 'one POST');
  t.equal(post[0].path, '/api/1/vehicles/fleet_telemetry_config_jws');
  t.equal(post[0].headers.authorization, `Bearer ${ACCESS}`);
  t.match(post[0].headers['content-type'], /^application\/json/);
  const sent = JSON.parse(post[0].body) as { vins: string[]; token: string };
  t.same(sent.vins, [VIN1]);
  const d = independentVerifyToken(sent.token, w.publicRaw);
  t.ok(d.valid, "the token verifies with openssl's view of the key, independently of the signer");
  const body = JSON.parse(readFileSync(bodyFile, 'utf8')) as { config: Record<string, unknown> };
  t.same(d.claims, { ...body.config, iss: w.publicRaw.toString('base64'), aud: 'com.tesla.fleet.TelemetryClient' }, 'claims: the config, iss and aud');
  t.equal(d.claims.delivery_policy, 'latest');
  const gets = api.requests.filter((q) => q.path === `/api/1/vehicles/${VIN1}/fleet_telemetry_config`);
  t.equal(gets.length, 3, 'read until synced (the stand-in syncs on the third read)');
  t.ok(gets.every((g) => g.method === 'GET' && g.headers.authorization === `Bearer ${ACCESS}`));
  const errs = api.requests.filter((q) => q.path === '/api/1/partner_accounts/fleet_telemetry_errors');
  t.equal(errs.length, 1);
  t.equal(errs[0].headers.authorization, `Bearer ${PARTNER}`, 'errors are read with the partner token');

  const st = await runCli(['tesla', 'status', '--vin', VIN1, '--api-base', api.base, '--token-file', 'token'], w.dir, {
    env: { NODE_EXTRA_CA_CERTS: api.caFile },
  });
  t.equal(st.code, 0, st.stdout + st.stderr);
  t.match(st.stdout, /^synced: true$/m);
  t.match(st.stdout, /^key_paired: true$/m);
  t.match(st.stdout, /"hostname": "localhost"/);
  t.match(st.stdout, /^errors: not read \(fleet_telemetry_errors needs a partner token/m);
  const none = await runCli(['tesla', 'status', '--vin', VIN2, '--api-base', api.base], w.dir, {
    env: { NODE_EXTRA_CA_CERTS: api.caFile, TESLA_ACCESS_TOKEN: ACCESS, TESLA_PARTNER_TOKEN: PARTNER },
  });
  t.equal(none.code, 1, 'a car without the config: exit 1');
  t.match(none.stdout, /^synced: false/m);
  t.match(none.stdout, /^config: none/m);
  t.match(none.stdout, /^errors: none reported by the car$/m);
});

t.test('push: skipped cars are named with the reason and what to do; exit 1 unless every car synced', async (t) => {
  const w = await world(t);
  const api = await w.standIn({ skip: { [VIN2]: 'missing_key', [VIN3]: 'unsupported_firmware' }, syncAfterReads: 0 });
  const r = await w.push(api, ['--body', w.body([VIN1, VIN2, VIN3]), '--config', w.configFile, '--domain', 'app.example.com', '--poll', '200ms']);
  t.equal(r.code, 1, r.stdout + r.stderr);
  t.same(api.refused, []);
  t.match(r.stdout, /^pushed: 1 vehicle updated$/m);
  t.match(
    r.stdout,
    new RegExp(`^skipped ${VIN2}: the car does not have this application's key: open https://tesla\\.com/_ak/app\\.example\\.com on the phone`, 'm'),
  );
  t.match(r.stdout, new RegExp(`^skipped ${VIN3}: the car's firmware is too old`, 'm'));
  t.match(r.stdout, new RegExp(`^${VIN1}: synced$`, 'm'));
  t.match(r.stdout, /^1 of 3 vehicles synced$/m);
  t.notOk(
    api.requests.some((q) => q.path.includes(VIN2)),
    'a skipped car is not polled',
  );
});

t.test('push: a car that never syncs ends after --wait with exit 1', async (t) => {
  const w = await world(t);
  const api = await w.standIn({ syncAfterReads: Infinity });
  const r = await w.push(api, ['--body', w.body([VIN1]), '--config', w.configFile, '--poll', '500ms', '--wait', '2s']);
  t.equal(r.code, 1);
  t.match(r.stdout, new RegExp(`^${VIN1}: not synced after 0:02 \\(the car takes its config when online`, 'm'));
  t.match(r.stdout, /^0 of 1 vehicle synced$/m);
  const reads = api.requests.filter((q) => q.method === 'GET' && q.path.endsWith('/fleet_telemetry_config')).length;
  t.ok(reads >= 2 && reads <= 6, `polled a few times, not in a tight loop (${reads})`);
});

t.test('push with --vin: a token only that car accepts', async (t) => {
  const w = await world(t);
  const api = await w.standIn({ syncAfterReads: 0 });
  const r = await w.push(api, ['--body', w.body([VIN1, VIN2]), '--private-key', join(w.dir, 'keys', 'private-key.pem'), '--vin', VIN2, '--poll', '200ms']);
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.same(api.refused, []);
  const sent = JSON.parse(api.requests.find((q) => q.method === 'POST')!.body) as { vins: string[]; token: string };
  t.same(sent.vins, [VIN2]);
  t.equal(independentVerifyToken(sent.token, w.publicRaw).claims.aud, `com.tesla.vehicle.${VIN2}.TelemetryClient`);
  t.notMatch(r.stdout, /public key page/, 'no page check without --config');
});

t.test('push refuses before sending: a page serving another key, an endpoint the ca does not verify, a rejected token', async (t) => {
  const w = await world(t);
  const api = await w.standIn();
  const other = join(w.dir, 'other.pem');
  execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', other]);
  const wrongKey = await w.push(api, ['--body', w.body([VIN1]), '--config', w.configFile, '--private-key', other]);
  t.equal(wrongKey.code, 1);
  t.match(
    wrongKey.stderr,
    /refused: https:\/\/127\.0\.0\.1:\d+\/\.well-known\/appspecific\/com\.tesla\.3p\.public-key\.pem serves the key [0-9a-f]{64}, but .*other\.pem \([0-9a-f]{64}\) signs/,
  );
  t.equal(api.requests.length, 0, 'nothing sent to the Fleet API');

  const body = JSON.parse(readFileSync(w.body([VIN1]), 'utf8')) as { vins: string[]; config: Record<string, unknown> };
  body.config.ca = readFileSync(api.caFile, 'utf8');
  writeFileSync(join(w.dir, 'wrong-ca.json'), JSON.stringify(body));
  const wrongCa = await w.push(api, ['--body', 'wrong-ca.json', '--config', w.configFile]);
  t.equal(wrongCa.code, 1);
  t.match(wrongCa.stderr, /refused: localhost:\d+ serves a chain the config's ca does not verify/);
  t.equal(api.requests.length, 0, 'nothing sent');

  writeFileSync(join(w.dir, 'bad-token'), 'expired-token\n');
  const bad = await runCli(['tesla', 'push', '--api-base', api.base, '--token-file', 'bad-token', '--body', w.body([VIN1]), '--config', w.configFile], w.dir, {
    env: { NODE_EXTRA_CA_CERTS: api.caFile },
  });
  t.equal(bad.code, 1);
  t.match(
    bad.stderr,
    /POST \/api\/1\/vehicles\/fleet_telemetry_config_jws: HTTP 401 invalid_token: the bearer token is not valid \(the token is expired or not accepted: get a new one\) \[FLEET_API_HTTP\]/,
  );
  t.notMatch(bad.stderr, /expired-token/, 'the token is not printed');
  t.notMatch(bad.stderr, STACK);

  const noRegion = await runCli(['tesla', 'push', '--body', w.body([VIN1]), '--config', w.configFile], w.dir, {
    env: { TESLA_ACCESS_TOKEN: ACCESS, TESLA_API_BASE: '' },
  });
  t.equal(noRegion.code, 2);
  t.match(noRegion.stderr, /give --region na\|eu\|cn/);
  const http = await runCli(['tesla', 'status', '--vin', VIN1, '--api-base', 'http://127.0.0.1:1'], w.dir, { env: { TESLA_ACCESS_TOKEN: ACCESS } });
  t.equal(http.code, 2);
  t.match(http.stderr, /https only/);
});
