import t from 'tap';
import { EXTRA_CA_NAMES_WARN, longCaList } from '../src/ops/endpoint.js';
import { tlsEndLine } from '../src/ops/tls-end.js';

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
  t.match(tlsEndLine({ status: 200, mode: 'proxy', body: 'mtls ok', server: 'nginx' }, true), { status: 'ok', message: /proxy in front decrypts \(nginx answered\).*tls\.proxy mode/ });
  t.match(tlsEndLine({ status: 403, mode: 'proxy', body: 'client certificate refused: not trusted' }, true), { status: 'fail', message: /refused the certificate it passed: client certificate refused: not trusted/ });
  t.match(tlsEndLine({ status: 502, server: 'nginx', body: 'Bad Gateway' }, true), { status: 'fail', message: /no fleet-telemetry server in tls\.proxy mode answered behind it \(HTTP 502\)/ });
  t.match(tlsEndLine({ status: 400, server: 'nginx' }, false), { status: 'warn', message: /Give --cert\/--key/ });
  t.equal(tlsEndLine({ error: 'socket hang up' }, true), undefined, 'no answer: no line');
});
