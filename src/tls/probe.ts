/**
 * One TLS connection as a vehicle makes it, judged afterwards: which protocol was agreed, whether
 * the server's chain verifies against a given `ca` and covers a host name. Also the loopback form
 * (`verifyCaAgainstServer`): the server's own certificate and key served on 127.0.0.1, so a `ca`
 * is judged by OpenSSL itself, exactly as a TLS client would judge it, before any car is told.
 */
import { X509Certificate } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import { isIP } from 'node:net';
import { checkServerIdentity, connect, createServer, type DetailedPeerCertificate } from 'node:tls';
import { certLabel, cnOf } from './cert-label.js';

export interface TlsProbe {
  /** `TLSv1.2`, `TLSv1.3`: set once the handshake completed on the client side. */
  protocol?: string;
  /** The chain verified against `ca` (the host name is judged separately). */
  authorized: boolean;
  authorizationError?: string;
  /** Why the host name is not covered; undefined when it is (or no name was judged). */
  nameError?: string;
  /** The certificates the server sent, leaf first. */
  chain: X509Certificate[];
  /** The connection failed before the handshake completed. */
  error?: NodeJS.ErrnoException;
}

export interface ProbeOptions {
  host: string;
  port: number;
  /** The name the certificate must cover and SNI sends; default `host`. */
  servername?: string;
  ca: string;
  cert?: string;
  key?: string;
  minVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  maxVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  /** OpenSSL cipher string (to let an old-protocol probe through OpenSSL's security level). */
  ciphers?: string;
  timeoutMs?: number;
}

function peerChain(leaf: DetailedPeerCertificate | undefined): X509Certificate[] {
  const out: X509Certificate[] = [];
  const seen = new Set<string>();
  for (let c = leaf; c && c.raw && !seen.has(c.fingerprint256); c = c.issuerCertificate) {
    seen.add(c.fingerprint256);
    try {
      out.push(new X509Certificate(c.raw));
    } catch {
      break;
    }
  }
  return out;
}

export function probeTls(o: ProbeOptions): Promise<TlsProbe> {
  const name = o.servername ?? o.host;
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: TlsProbe, s?: Socket, graceful = false) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (graceful && s) {
        // Ends cleanly, so the server sees a finished handshake (and, with a certificate, a
        // request) instead of a client that closed on its certificate.
        s.on('error', () => {}); // a reset while ending is no news
        s.once('close', () => clearTimeout(linger));
        s.resume();
        const linger = setTimeout(() => s.destroy(), 1000).unref();
        if (o.cert) s.end(`GET /status HTTP/1.1\r\nHost: ${name.includes(':') ? `[${name}]` : name}\r\nConnection: close\r\n\r\n`);
        else s.end();
      } else {
        s?.destroy();
      }
      resolve(r);
    };
    const sock = connect({
      host: o.host,
      port: o.port,
      servername: isIP(name) ? undefined : name,
      ca: o.ca,
      cert: o.cert,
      key: o.key,
      minVersion: o.minVersion ?? 'TLSv1.2',
      maxVersion: o.maxVersion,
      ciphers: o.ciphers,
      rejectUnauthorized: false,
    });
    const timer = setTimeout(() => {
      const err: NodeJS.ErrnoException = new Error(`no TLS handshake within ${o.timeoutMs ?? 10_000} ms`);
      err.code = 'ETIMEDOUT';
      finish({ authorized: false, chain: [], error: err }, sock);
    }, o.timeoutMs ?? 10_000);
    sock.once('secureConnect', () => {
      const peer = sock.getPeerCertificate(true);
      const idErr = peer?.raw ? checkServerIdentity(name, peer) : new Error('the server sent no certificate');
      finish(
        {
          protocol: sock.getProtocol() ?? undefined,
          authorized: sock.authorized,
          authorizationError: sock.authorizationError ? String(sock.authorizationError) : undefined,
          nameError: idErr?.message,
          chain: peerChain(peer),
        },
        sock,
        true,
      );
    });
    sock.once('error', (err: NodeJS.ErrnoException) => finish({ authorized: false, chain: [], error: err }, sock));
  });
}

/** The `ca` a chain was judged against: its certificates and where they came from (a file, a config key). */
export interface CaSource {
  pem: string;
  /** `dev-certs/ca.pem`, `the "ca" of body.json`: said with every certificate it holds. */
  from?: string;
}

/** `the ca from FILE holds "A" (SHA-256 …), "B" (SHA-256 …)`: which CA it is, not just its name. */
function caHolds(ca: CaSource): string {
  const certs = splitCerts(ca.pem);
  const shown = certs.slice(0, 3).map((c) => certLabel(c));
  const more = certs.length > shown.length ? ` and ${certs.length - shown.length} more` : '';
  return `the ca${ca.from ? ` from ${ca.from}` : ''} holds ${shown.join(', ') || 'no certificate'}${more}`;
}

function splitCerts(pem: string): X509Certificate[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).flatMap((p) => {
    try {
      return [new X509Certificate(p)];
    } catch {
      return [];
    }
  });
}

/** An OpenSSL verification code, in plain words, naming the certificates involved (and the ca, when given). */
export function explainVerifyError(code: string, chain: X509Certificate[], ca?: CaSource): string {
  const top = chain[chain.length - 1];
  const leaf = chain[0];
  const holds = ca ? ` (${caHolds(ca)})` : '';
  // Two CAs may share a name: say so when the ca holds one named like the certificate it lacks.
  const sameName = (x: X509Certificate | undefined, name: 'subject' | 'issuer') =>
    ca && x && splitCerts(ca.pem).some((c) => cnOf(c.subject) === cnOf(x[name]))
      ? `; the ca's certificate of that name is another one (another key): it was made again, or elsewhere`
      : '';
  switch (code) {
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'UNABLE_TO_GET_ISSUER_CERT':
      return `the ca holds no certificate that issued ${top ? `${certLabel(top)} (issuer "${cnOf(top.issuer)}")` : 'the server certificate'}, the last certificate the server sends${holds}${sameName(top, 'issuer')}`;
    case 'SELF_SIGNED_CERT_IN_CHAIN':
      return `the server's chain ends at the root ${top ? certLabel(top) : '?'}, which is not in the ca${holds}${sameName(top, 'subject')}`;
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
      return `the server certificate ${leaf ? certLabel(leaf) : '?'} is self-signed and is not the ca${holds}`;
    case 'CERT_HAS_EXPIRED':
      return 'a certificate of the chain has expired';
    case 'CERT_NOT_YET_VALID':
      return "a certificate of the chain is not valid yet (or this machine's clock is wrong)";
    case 'CERT_SIGNATURE_FAILURE':
      return 'a signature in the chain does not verify';
    default:
      return code;
  }
}

/**
 * Serves `certPem` (the server's chain, leaf first) with `keyPem` on 127.0.0.1 and connects with
 * only `caPem` trusted and `hostname` as the name to verify: undefined when a vehicle given that
 * ca would accept the server, otherwise the reason.
 */
export async function verifyCaAgainstServer(certPem: string, keyPem: string, caPem: string, hostname: string, caFrom?: string): Promise<string | undefined> {
  const server = createServer({ cert: certPem, key: keyPem, minVersion: 'TLSv1.2' }, (s) => s.end());
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  try {
    const { port } = server.address() as AddressInfo;
    const r = await probeTls({ host: '127.0.0.1', port, servername: hostname, ca: caPem });
    if (r.error) return `the TLS handshake failed: ${r.error.message}`;
    if (!r.authorized) return explainVerifyError(r.authorizationError ?? 'unknown error', r.chain, { pem: caPem, from: caFrom });
    if (r.nameError) return r.nameError;
    return undefined;
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
