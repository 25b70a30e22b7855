/**
 * check-endpoint's view of where TLS ends: at the fleet-telemetry server (direct mTLS) or at a
 * proxy in front (tls.proxy mode), and whether the server behind a decrypting proxy is set up for
 * it. Read from one GET /status: the server says `fleet-telemetry-tls: direct|proxy`.
 */
import { request } from 'node:https';
import { isIP } from 'node:net';
import type { CheckLine } from '../../tls/check.js';

export interface StatusAnswer {
  status?: number;
  /** The server's `fleet-telemetry-tls` header: direct or proxy. */
  mode?: string;
  /** The `server` header (nginx names itself; haproxy and this server send none). */
  server?: string;
  body?: string;
  error?: string;
}

/** GET /status as a vehicle makes it (the same ca, certificate and name). */
export function fetchStatus(o: {
  host: string;
  port: number;
  servername: string;
  ca: string;
  cert?: string;
  key?: string;
  timeoutMs: number;
}): Promise<StatusAnswer> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: o.host,
        port: o.port,
        path: '/status',
        method: 'GET',
        ca: o.ca,
        cert: o.cert,
        key: o.key,
        servername: isIP(o.servername) ? undefined : o.servername,
        rejectUnauthorized: false,
        timeout: o.timeoutMs,
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body = (body + c).slice(0, 400)));
        res.on('end', () =>
          resolve({ status: res.statusCode, mode: header(res.headers['fleet-telemetry-tls']), server: header(res.headers.server), body: body.trim() }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer to GET /status within ${o.timeoutMs} ms`)));
    req.on('error', (err) => resolve({ error: err.message.split('\n')[0] }));
    req.end();
  });
}

const header = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

/** What the /status answer says about where TLS ends. Pure. */
export function tlsEndLine(a: StatusAnswer, withCert: boolean): CheckLine | undefined {
  if (a.error || a.status === undefined) return undefined;
  const who = a.server ? ` (${a.server} answered)` : '';
  if (a.mode === 'direct') return { status: 'ok', check: 'tls_end', message: 'mTLS ends at the fleet-telemetry server itself (direct mode)' };
  if (a.mode === 'proxy') {
    if (a.status === 200) {
      return {
        status: 'ok',
        check: 'tls_end',
        message: `a proxy in front decrypts${who}; the server behind it is in tls.proxy mode and verified the certificate it passed again`,
      };
    }
    return {
      status: 'fail',
      check: 'tls_end',
      message: `a proxy in front decrypts${who}; the server behind it (tls.proxy mode) refused the certificate it passed: ${a.body || `HTTP ${a.status}`}`,
    };
  }
  if (a.status === 200 && a.body === 'mtls ok')
    return { status: 'ok', check: 'tls_end', message: 'mTLS ends at the fleet-telemetry server (an older version: it does not name its mode)' };
  if (!withCert) {
    return {
      status: 'warn',
      check: 'tls_end',
      message: `GET /status without a client certificate got HTTP ${a.status}${who}: a proxy in front decrypts? Give --cert/--key to check the server behind it`,
    };
  }
  return {
    status: 'fail',
    check: 'tls_end',
    message:
      `a proxy in front decrypts${who}, and no fleet-telemetry server in tls.proxy mode answered behind it (HTTP ${a.status}): ` +
      "set tls.proxy on the server, with the proxy's address in trusted_proxies and the header the proxy sets",
  };
}
