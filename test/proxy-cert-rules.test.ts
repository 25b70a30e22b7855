import t from 'tap';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCa, issueCert } from '../src/tls/dev-certs.js';
import { certFromHeader } from '../src/server/proxy/header-cert.js';
import { verifyClientCert } from '../src/server/proxy/verify.js';
import { splitPem, teslaCaDir } from '../src/tls/ca-bundle.js';

// The pure rules of tls.proxy: reading the header and verifying what it holds, as OpenSSL would.

const x = (pem: string) => new X509Certificate(pem);
const DAY = 86400_000;

t.test('the header: nginx and haproxy forms; anything else named', async (t) => {
  const ca = await createCa({ commonName: 'Rules CA' });
  const leaf = await issueCert(ca, { commonName: '5YJ3E1EA7KF000301', kind: 'client' });
  const der = x(leaf.certPem).raw;
  const fromPem = certFromHeader([encodeURIComponent(leaf.certPem)]);
  const fromDer = certFromHeader([der.toString('base64')]);
  t.ok(fromPem.ok && fromPem.cert.raw.equals(der), 'URL-encoded PEM');
  t.ok(fromDer.ok && fromDer.cert.raw.equals(der), 'base64 DER');
  const raw = certFromHeader([leaf.certPem.replace(/\n/g, ' ')]);
  t.ok(raw.ok, "PEM with its line breaks as spaces (nginx's older $ssl_client_cert)");
  t.match(certFromHeader(undefined), { ok: false, reason: /no client certificate header/ });
  t.match(certFromHeader(['a', 'b']), { ok: false, reason: /more than once/ });
  t.match(certFromHeader([encodeURIComponent(leaf.certPem + ca.certPem)]), { ok: false, reason: /more than one certificate/ });
  t.match(certFromHeader(['%E0%A4%A']), { ok: false, reason: /not valid URL-encoding/ });
});

t.test('verification: chains, dates and purpose as direct mTLS checks them', async (t) => {
  const root = await createCa({ commonName: 'Rules Root' });
  const inter = await createCa({ commonName: 'Rules Issuing', issuer: root });
  const leaf = await issueCert(inter, { commonName: '5YJ3E1EA7KF000302', kind: 'client' });
  const pool = [x(root.certPem), x(inter.certPem)];
  const ok = verifyClientCert(x(leaf.certPem), pool);
  t.ok(ok.ok, 'leaf → intermediate → root, both in the pool');
  if (ok.ok) t.equal(ok.chain.length, 3);
  t.match(
    verifyClientCert(x(leaf.certPem), [x(inter.certPem)]),
    { ok: false, reason: /does not chain to the client-CA pool/ },
    'without its root: refused, as OpenSSL does without a partial chain',
  );
  t.match(verifyClientCert(x(leaf.certPem), [x(root.certPem)]), { ok: false }, 'without its intermediate (a proxy passes the leaf only)');

  const later = await issueCert(root, {
    commonName: '5YJ3E1EA7KF000303',
    kind: 'client',
    notBefore: new Date(Date.now() + DAY),
    notAfter: new Date(Date.now() + 2 * DAY),
  });
  t.match(verifyClientCert(x(later.certPem), pool), { ok: false, reason: /not valid before/ });
  const server = await issueCert(root, { commonName: 'srv.example', kind: 'server', dnsNames: ['srv.example'] });
  t.match(verifyClientCert(x(server.certPem), pool), { ok: false, reason: /not for client authentication/ }, 'a server-only certificate');
  t.match(verifyClientCert(x(leaf.certPem), pool, new Date(Date.now() + 3000 * DAY)), { ok: false, reason: /expired/ }, 'judged at a later date: expired');

  // Tesla's bundle alone trusts none of these.
  const tesla = splitPem(readFileSync(join(teslaCaDir(), 'production.pem'), 'utf8')).map(x);
  t.match(verifyClientCert(x(leaf.certPem), tesla), { ok: false, reason: /not trusted/ }, "Tesla's bundle does not trust another CA's leaf");
});
