import t from 'tap';
import { parseConfig } from '../src/config/load.js';
import { ConfigError } from '../src/config/errors.js';
import { parseTrustedProxies } from '../src/config/trusted-proxies.js';
import { configChecks } from '../src/tls/check.js';

// tls.proxy: absent by default; its addresses and header name checked at load, with stable codes.

const base = { records: { V: ['logger'] }, tls: { server_cert: 's.pem', server_key: 's.key' } };
const load = (tls: Record<string, unknown>) => parseConfig(JSON.stringify({ ...base, tls: { ...base.tls, ...tls } }), 'c.json', {});
const problems = (tls: Record<string, unknown>) => {
  try {
    load(tls);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

t.test('absent by default; accepted when whole', async (t) => {
  t.equal(load({}).tls.proxy, undefined, 'direct mTLS unless set');
  t.same(load({ proxy: { trusted_proxies: ['127.0.0.1', '10.0.0.0/8', 'fd00::/8'], client_cert_header: 'X-Client-Cert' } }).tls.proxy, {
    trusted_proxies: ['127.0.0.1', '10.0.0.0/8', 'fd00::/8'],
    client_cert_header: 'X-Client-Cert',
  });
});

t.test('refused with a code and the path', async (t) => {
  t.match(problems({ proxy: { trusted_proxies: ['proxy.example.com'], client_cert_header: 'X-Client-Cert' } }), [
    { code: 'invalid_proxy_address', path: '/tls/proxy/trusted_proxies/0', message: /not an IP address or CIDR/ },
  ]);
  t.match(problems({ proxy: { trusted_proxies: ['127.0.0.1', '10.0.0.0/33'], client_cert_header: 'X-Client-Cert' } }), [
    { code: 'invalid_proxy_address', path: '/tls/proxy/trusted_proxies/1', message: /prefix length must be 0 to 32/ },
  ]);
  t.ok(problems({ proxy: { trusted_proxies: [], client_cert_header: 'X-Client-Cert' } }).length, 'an empty list');
  t.ok(problems({ proxy: { trusted_proxies: ['127.0.0.1'] } }).length, 'no header name');
  t.ok(problems({ proxy: { trusted_proxies: ['127.0.0.1'], client_cert_header: 'X Client: Cert' } }).length, 'a header name with a space');
});

t.test('trusted_proxies matching', async (t) => {
  const r = parseTrustedProxies(['127.0.0.1', '10.1.0.0/16', 'fd00::/8']);
  if (!r.ok) throw new Error(r.reason);
  t.ok(r.trusted.has('127.0.0.1'));
  t.ok(r.trusted.has('::ffff:127.0.0.1'), 'an IPv4 peer on a dual-stack socket');
  t.notOk(r.trusted.has('127.0.0.2'));
  t.ok(r.trusted.has('10.1.255.7'));
  t.notOk(r.trusted.has('10.2.0.1'));
  t.ok(r.trusted.has('fd12::1'));
  t.notOk(r.trusted.has('fe80::1'));
  t.notOk(r.trusted.has(undefined), 'a socket with no address');
});

t.test('a trusted_proxies range wider than a site network is a warning', async (t) => {
  t.same(load({ proxy: { trusted_proxies: ['10.0.0.5', '10.1.0.0/16', 'fd00:1::/48'], client_cert_header: 'X-Client-Cert' } }).warnings, []);
  const w = load({ proxy: { trusted_proxies: ['0.0.0.0/0', '10.0.0.0/8', '::/0'], client_cert_header: 'X-Client-Cert' } }).warnings ?? [];
  t.match(w, [/trusted_proxies holds 0\.0\.0\.0\/0, 10\.0\.0\.0\/8, ::\/0: every host there can present any vehicle's certificate/]);
});

t.test('check-config says the mode', async (t) => {
  const lines = configChecks(load({ proxy: { trusted_proxies: ['10.0.0.5'], client_cert_header: 'X-Client-Cert' } }), 'c.json');
  t.match(
    lines.find((l) => l.check === 'tls_proxy'),
    { status: 'ok', message: /plain HTTP to 10\.0\.0\.5 only, and verifies the certificate in X-Client-Cert again/ },
  );
  t.equal(
    configChecks(load({}), 'c.json').find((l) => l.check === 'tls_proxy'),
    undefined,
    'nothing in direct mode',
  );
});
