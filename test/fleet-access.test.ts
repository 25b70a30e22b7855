import t from 'tap';
import { request } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startMonitored } from './helpers/monitored.js';
import { startServer } from './helpers/server.js';
import { makePki } from './helpers/pki.js';

// Issue #31 part 2: the fleet view (page, /api/*, /vehicles) off loopback needs a credential;
// /metrics, /livez and /readyz do not. The monitoring listener binds every interface here (port 0).

const TOKEN = 'c0ffee-fleet-token-0123456789abcdef';

/** GET or POST on the monitoring port from a given loopback address. */
function call(
  port: number,
  path: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string; localAddress?: string } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers, localAddress: opts.localAddress, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => {
          body += c;
          // An event stream never ends: its headers and first bytes are enough.
          if (res.headers['content-type'] === 'text/event-stream') res.destroy();
        });
        const done = () => resolve({ status: res.statusCode!, headers: res.headers, body });
        res.on('end', done);
        res.on('close', done);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

const FLEET = ['/', '/api/fleet', '/api/vehicles/5YJ3E1EA7KF000001', '/vehicles'];
const OPS = ['/metrics', '/livez', '/readyz'];

t.test('off loopback without a token file: the fleet view is refused, the rest answers, and a warning says so', async (t) => {
  const { server, port } = await startMonitored(t.testdir(), { monitoring: { prometheus_metrics_port: 0, prometheus_metrics_host: '' } });
  t.teardown(() => server.stop());
  for (const p of FLEET) t.equal((await call(port, p)).status, 403, `${p}: 403`);
  t.match((await call(port, '/api/fleet')).body, /set monitoring\.fleet_view\.token_file/, 'the refusal says what to set');
  for (const p of OPS) t.equal((await call(port, p)).status, 200, `${p}: 200 as before`);
  const w = await server.waitForLog((l) => l.event === 'monitoring_exposed');
  t.equal(w.level, 40, 'a warn line at start');
  t.match(String(w.msg), new RegExp(`/metrics, /livez and /readyz are open to the network on 0\\.0\\.0\\.0:${port}; .*/vehicles .* are refused \\(403\\)`));
});

t.test('off loopback with public: true the fleet view is open, and the warning says to anyone', async (t) => {
  const { server, port } = await startMonitored(t.testdir(), { monitoring: { prometheus_metrics_port: 0, host: '0.0.0.0', fleet_view: { public: true } } });
  t.teardown(() => server.stop());
  for (const p of ['/', '/api/fleet', '/vehicles']) t.equal((await call(port, p)).status, 200, `${p}: 200`);
  const w = await server.waitForLog((l) => l.event === 'monitoring_exposed');
  t.match(String(w.msg), /to anyone \(monitoring\.fleet_view\.public is true\)/);
});

t.test('with a token file: Bearer for the API, a login form and cookie for the page, failures limited, the token never logged', async (t) => {
  const dir = t.testdir();
  writeFileSync(join(dir, 'fleet.token'), `${TOKEN}\n`);
  const { server, port } = await startMonitored(dir, {
    monitoring: { prometheus_metrics_port: 0, prometheus_metrics_host: '', fleet_view: { token_file: 'fleet.token' } },
  });
  t.teardown(() => server.stop());
  const bearer = { authorization: `Bearer ${TOKEN}` };

  for (const p of FLEET.slice(1)) {
    const none = await call(port, p);
    t.equal(none.status, 401, `${p} without a token: 401`);
    t.equal(none.headers['www-authenticate'], 'Bearer realm="fleet-telemetry"');
    t.equal((await call(port, p, { headers: { authorization: 'Bearer not-the-token-at-all' } })).status, 401, `${p} with a wrong token: 401`);
  }
  t.equal((await call(port, '/api/fleet', { headers: bearer })).status, 200, '/api/fleet with the token');
  t.equal((await call(port, '/vehicles', { headers: bearer })).status, 200, '/vehicles with the token');
  t.equal((await call(port, '/api/vehicles/5YJ3E1EA7KF000001', { headers: bearer })).status, 404, 'a vehicle with the token: past the guard (unknown vehicle)');
  const events = await call(port, '/api/events', { headers: bearer });
  t.equal(events.status, 200, '/api/events with the token');
  for (const p of OPS) t.equal((await call(port, p)).status, 200, `${p}: no token needed`);

  const page = await call(port, '/');
  t.equal(page.status, 401, 'the page without a credential: the login form');
  t.match(page.body, /<form method="post" action="\/login">/);
  t.match(String(page.headers['content-security-policy']), /form-action 'self'/);
  const wrong = await call(port, '/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=nope' });
  t.equal(wrong.status, 401, 'a wrong token at the form: 401');
  t.equal(wrong.headers['set-cookie'], undefined, 'and no cookie');
  const login = await call(port, '/login', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `token=${encodeURIComponent(TOKEN)}`,
  });
  t.equal(login.status, 303, 'the right token: redirected to the page');
  const cookie = String(login.headers['set-cookie']);
  t.match(cookie, /HttpOnly/, 'HttpOnly');
  t.match(cookie, /SameSite=Strict/, 'SameSite=Strict');
  const jar = cookie.split(';')[0];
  t.equal((await call(port, '/', { headers: { cookie: jar } })).status, 200, 'the page with the cookie');
  t.equal((await call(port, '/api/fleet', { headers: { cookie: jar } })).status, 200, "the API with the cookie (the page's own requests)");

  // Failures limited per address: 127.0.0.3 guesses, then even the right token waits.
  const from = { localAddress: '127.0.0.3' };
  const statuses: number[] = [];
  for (let i = 0; i < 12; i++) statuses.push((await call(port, '/api/fleet', { ...from, headers: { authorization: `Bearer guess-${i}` } })).status);
  t.same(statuses.slice(0, 10), Array(10).fill(401), '10 wrong tokens: 401 each');
  t.same(statuses.slice(10), [429, 429], 'then 429');
  const after = await call(port, '/api/fleet', { ...from, headers: bearer });
  t.equal(after.status, 429, 'the right token from that address waits too');
  t.ok(Number(after.headers['retry-after']) > 0, 'with Retry-After');
  t.equal((await call(port, '/api/fleet', { headers: bearer })).status, 200, 'another address is not held up');

  await server.waitForLog((l) => l.event === 'fleet_auth_failed');
  const logged = JSON.stringify(server.logs) + server.stderr.join('');
  t.notOk(logged.includes(TOKEN), 'the token appears in no log line');
  t.ok(server.logs.filter((l) => l.event === 'fleet_auth_failed').length >= 10, 'failures are logged (without the token)');
  const w = await server.waitForLog((l) => l.event === 'monitoring_exposed');
  t.match(String(w.msg), /answer only with the token of monitoring\.fleet_view\.token_file/);
});

t.test('a token file that cannot be read, or is too short, stops the start with its code', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  writeFileSync(join(dir, 'short.token'), 'abc\n');
  for (const [file, re] of [
    ['missing.token', /fleet_view\.token_file .*missing\.token: cannot read: no such file/],
    ['short.token', /at least 16 characters/],
  ] as const) {
    const err = await startServer(dir, {
      records: { V: ['logger'] },
      tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
      monitoring: { prometheus_metrics_port: 0, fleet_view: { token_file: file } },
    }).then(
      (s) => s.stop().then(() => 'started'),
      (e: Error) => e.message,
    );
    t.match(err, /server exited with 2/, `${file}: exit 2`);
    t.match(err, re, `${file}: the reason`);
  }
});
