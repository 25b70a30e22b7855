import t from 'tap';
import type { Test } from 'tap';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { join } from 'node:path';
import { CLI, runCli, STACK, testdir } from './helpers/cli.js';
import { startFleetApiStandIn, type StandIn } from './helpers/fleet-api-standin.js';

// Issue #30 item 5: tesla login (authorization code flow, stored 0600, refreshed) and tesla register.
const CLIENT_ID = 'app-client-1';
const SECRET = 'app-secret-5e6f7a8b';
const ACCESS = 'owner-access-a1b2c3';
const PARTNER = 'partner-token-d4e5f6';

t.setTimeout(180_000);

function follow(url: string, ca: string): Promise<{ status: number; location?: string; body: string }> {
  return new Promise((resolve, reject) => {
    const cb = (res: import('node:http').IncomingMessage) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, body }));
    };
    const req = url.startsWith('https:') ? httpsGet(url, { ca }, cb) : httpGet(url, cb);
    req.on('error', reject);
  });
}

async function setup(t: Test) {
  const dir = testdir(t);
  const key = join(dir, 'app.pem');
  execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
  const publicRaw = execFileSync('openssl', ['ec', '-in', key, '-pubout', '-outform', 'DER'], { stdio: ['ignore', 'pipe', 'ignore'] }).subarray(-65);
  const api: StandIn = await startFleetApiStandIn({
    dir,
    accessToken: ACCESS,
    partnerToken: PARTNER,
    appPublicRaw: publicRaw,
    clientId: CLIENT_ID,
    clientSecret: SECRET,
  });
  t.teardown(() => api.close());
  writeFileSync(join(dir, 'secret'), `${SECRET}\n`, { mode: 0o600 });
  const ca = readFileSync(api.caFile, 'utf8');
  return { dir, key, api, ca, env: { NODE_EXTRA_CA_CERTS: api.caFile } };
}

/** tesla login, with the test as the browser: open the printed page, follow Tesla's redirect back. */
async function login(dir: string, api: StandIn, ca: string, state?: string) {
  const child = spawn(
    process.execPath,
    [
      CLI,
      'tesla',
      'login',
      '--client-id',
      CLIENT_ID,
      '--client-secret-file',
      'secret',
      '--api-base',
      api.base,
      '--auth-base',
      api.base,
      '--port',
      '0',
      '--out',
      'tok.json',
      '--timeout',
      '60s',
    ],
    {
      cwd: dir,
      env: { ...process.env, NODE_EXTRA_CA_CERTS: api.caFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const guard = setTimeout(() => child.kill('SIGKILL'), 90_000);
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const page = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const m = /(https:\/\/127\.0\.0\.1:\d+\/oauth2\/v3\/authorize\?\S+)/.exec(stdout);
      if (m && /waiting for the redirect/.test(stdout)) resolve(m[1]);
    });
    child.once('exit', () => reject(new Error(`login exited early: ${stdout} ${stderr}`)));
  });
  const tesla = await follow(page, ca);
  let back = tesla.location!;
  if (state !== undefined) back = back.replace(/state=[^&]+/, `state=${state}`);
  const landing = await follow(back, ca);
  const code = await new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', resolve)));
  clearTimeout(guard);
  return { code, stdout, stderr, page, tesla, landing };
}

t.test('login: the authorization code flow through a local redirect; the token stored 0600, never printed', async (t) => {
  const { dir, api, ca } = await setup(t);
  const r = await login(dir, api, ca);
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.same(api.refused, []);
  const q = new URL(r.page).searchParams;
  t.equal(q.get('client_id'), CLIENT_ID);
  t.match(q.get('redirect_uri'), /^http:\/\/localhost:\d+\/callback$/);
  t.equal(q.get('response_type'), 'code');
  t.match(q.get('scope'), /offline_access/);
  t.equal(r.tesla.status, 302);
  t.equal(r.landing.status, 200);
  t.match(r.landing.body, /Logged in/);
  const tok = join(dir, 'tok.json');
  t.equal(statSync(tok).mode & 0o777, 0o600, 'token file mode 0600');
  const stored = JSON.parse(readFileSync(tok, 'utf8')) as Record<string, unknown>;
  t.equal(stored.access_token, ACCESS);
  t.equal(stored.refresh_token, 'refresh-1');
  t.ok((stored.expires_at as number) > Date.now() + 3_000_000, 'expires_at from expires_in');
  t.match(r.stdout, /^logged in: the token is in tok\.json \(mode 0600\)/m);
  t.notMatch(r.stdout + r.stderr, new RegExp(`${ACCESS}|refresh-1|${SECRET}`), 'no token or secret printed');
  const form = new URLSearchParams(api.requests.find((x) => x.path === '/oauth2/v3/token')!.body);
  t.equal(form.get('grant_type'), 'authorization_code');
  t.equal(form.get('redirect_uri'), q.get('redirect_uri'), 'the same redirect URI');
  t.equal(form.get('audience'), api.base, 'the Fleet API base as audience');

  // Expired: push/status refresh it first, and rewrite the file (refresh tokens are single-use).
  writeFileSync(tok, JSON.stringify({ ...stored, expires_at: Date.now() - 1000 }), { mode: 0o600 });
  const st = await runCli(['tesla', 'status', '--vin', '5YJ3E1EA7KF000051', '--api-base', api.base, '--token-file', 'tok.json'], dir, {
    env: { NODE_EXTRA_CA_CERTS: api.caFile },
  });
  t.match(st.stdout, /^synced: false/m, `the call went through with the new token: ${st.stderr}`);
  const after = JSON.parse(readFileSync(tok, 'utf8')) as Record<string, unknown>;
  t.equal(after.access_token, api.accessToken(), 'the refreshed token is stored');
  t.not(after.refresh_token, 'refresh-1', 'with the new refresh token');
  t.equal(statSync(tok).mode & 0o777, 0o600, 'still 0600');
  t.notMatch(st.stdout + st.stderr, String(after.access_token));
  t.same(api.refused, []);
});

t.test('login refuses a redirect that is not its own', async (t) => {
  const { dir, api, ca } = await setup(t);
  const r = await login(dir, api, ca, 'not-the-state');
  t.equal(r.code, 1);
  t.match(r.stderr, /another state: not from this login.*\[AUTH_STATE\]/);
  t.equal(r.landing.status, 400);
  t.notMatch(r.stderr, STACK);
});

t.test('register: a partner token, POST /api/1/partner_accounts, and the key Tesla then holds', async (t) => {
  const { dir, key, api, env } = await setup(t);
  const args = [
    'tesla',
    'register',
    '--domain',
    'app.example.com',
    '--client-id',
    CLIENT_ID,
    '--client-secret-file',
    'secret',
    '--api-base',
    api.base,
    '--auth-base',
    api.base,
  ];
  const r = await runCli([...args, '--private-key', key, '--partner-token-out', 'partner.json'], dir, { env });
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.same(api.refused, []);
  t.same(api.registered, ['app.example.com']);
  const post = api.requests.find((x) => x.method === 'POST' && x.path === '/api/1/partner_accounts')!;
  t.equal(post.headers.authorization, `Bearer ${PARTNER}`, 'with the partner token');
  t.same(JSON.parse(post.body), { domain: 'app.example.com' });
  const form = new URLSearchParams(api.requests.find((x) => x.path === '/oauth2/v3/token')!.body);
  t.equal(form.get('grant_type'), 'client_credentials');
  t.match(r.stdout, /^registered: app\.example\.com at https:\/\/127\.0\.0\.1:\d+$/m);
  t.match(r.stdout, /^public key: Tesla holds the key of /m);
  t.equal(statSync(join(dir, 'partner.json')).mode & 0o777, 0o600);
  t.notMatch(r.stdout + r.stderr, new RegExp(`${PARTNER}|${SECRET}`));

  const other = join(dir, 'other.pem');
  execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', other]);
  const mismatch = await runCli([...args, '--private-key', other], dir, { env });
  t.equal(mismatch.code, 1);
  t.match(mismatch.stderr, /Tesla holds another key .* for app\.example\.com, not the key of/);

  writeFileSync(join(dir, 'wrong'), 'nope');
  const wrongSecret = args.map((a) => (a === 'secret' ? 'wrong' : a));
  const wrong = await runCli(wrongSecret, dir, { env });
  t.equal(wrong.code, 1);
  t.match(wrong.stderr, /client_credentials at https:\/\/127\.0\.0\.1:\d+: HTTP 401 invalid_client: wrong client_secret \[AUTH_FAILED\]/);
  t.notMatch(wrong.stderr, /nope/);
});
