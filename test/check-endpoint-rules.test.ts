import t from 'tap';
import { clientIssuerLine, EXTRA_CA_NAMES_WARN, longCaList } from '../src/cli/doctor/endpoint.js';
import { createCa, issueCert } from '../src/tls/dev-certs.js';
import { tlsEndLine } from '../src/cli/doctor/tls-end.js';

// The pure rules behind check-endpoint's ca_list and tls_end lines.

t.test('a long acceptable-CA list is a warning naming #395', async (t) => {
  t.equal(longCaList(15, 1), undefined, "Tesla's bundle and a ca_file: no warning");
  t.equal(longCaList(14 + EXTRA_CA_NAMES_WARN, EXTRA_CA_NAMES_WARN), undefined, 'at the bound: no warning');
  const w = longCaList(150, 136);
  t.equal(w?.status, 'warn');
  t.match(w?.message, /150 acceptable CAs are named, 136 of them not Tesla's.*#395/);
});

t.test('tls_end from the /status answer', async (t) => {
  t.match(tlsEndLine({ status: 200, mode: 'direct', body: 'mtls ok' }, true), { status: 'ok', message: /direct mode/ });
  t.match(tlsEndLine({ status: 200, mode: 'proxy', body: 'mtls ok', server: 'nginx' }, true), {
    status: 'ok',
    message: /proxy in front decrypts \(nginx answered\).*tls\.proxy mode/,
  });
  t.match(tlsEndLine({ status: 403, mode: 'proxy', body: 'client certificate refused: not trusted' }, true), {
    status: 'fail',
    message: /refused the certificate it passed: client certificate refused: not trusted/,
  });
  t.match(tlsEndLine({ status: 502, server: 'nginx', body: 'Bad Gateway' }, true), {
    status: 'fail',
    message: /no fleet-telemetry server in tls\.proxy mode answered behind it \(HTTP 502\)/,
  });
  t.match(tlsEndLine({ status: 400, server: 'nginx' }, false), { status: 'warn', message: /Give --cert\/--key/ });
  t.equal(tlsEndLine({ error: 'socket hang up' }, true), undefined, 'no answer: no line');
});

t.test("client_issuer: the client certificate's issuer among the acceptable CA names", async (t) => {
  const ca = await createCa({ commonName: 'Vehicle CA, Inc.' });
  const leaf = await issueCert(ca, { commonName: 'VIN1', kind: 'client' });
  const inter = await createCa({ commonName: 'Intermediate', issuer: ca });
  const deep = await issueCert(inter, { commonName: 'VIN2', kind: 'client' });
  // openssl -nameopt RFC2253 escapes the comma.
  t.match(clientIssuerLine(leaf.certPem, ['CN=Other', 'CN=Vehicle CA\\, Inc.']), { status: 'ok', message: /issuer "Vehicle CA, Inc\." is among/ });
  t.match(clientIssuerLine(deep.certPem + inter.certPem, ['CN=Vehicle CA\\, Inc.']), { status: 'ok' }, 'an intermediate sent along, issued by a named CA');
  const many = Array.from({ length: 10 }, (_, i) => `CN=CA ${i},O=Tesla`);
  const refused = clientIssuerLine(leaf.certPem, many);
  t.equal(refused.status, 'fail');
  t.match(
    refused.message,
    /the client certificate "VIN1" is issued by "Vehicle CA, Inc\.", which is not among the 10 CAs the server accepts \("CA 0", "CA 1", .*"CA 7" and 2 more\): the server will refuse it/,
  );
});
