import type { Server as HttpsServer } from 'node:https';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { clip, LogLimiter } from '../ops/loglimit.js';
import type { ServerEvents } from './events.js';

/** Why a vehicle's TLS handshake failed, as a metric label and a sentence an operator can act on. */
export interface HandshakeFailure {
  reason: 'no_certificate' | 'untrusted' | 'server_refused' | 'expired' | 'not_yet_valid' | 'wrong_purpose' | 'protocol_version' | 'plain_http' | 'closed_early' | 'other';
  message: string;
  /** Worth an operator's attention (warn); a connection closed mid-handshake is usually a probe. */
  notable: boolean;
}

const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_CHAIN_TOO_LONG',
]);


function dn(name: PeerCertificate['issuer'] | undefined): string {
  if (!name) return 'unknown';
  const cn = name.CN as unknown;
  const o = name.O as unknown;
  const first = (v: unknown) => String(Array.isArray(v) ? v[0] : v);
  const parts = [cn !== undefined ? `CN=${first(cn)}` : '', o !== undefined ? `O=${first(o)}` : ''].filter(Boolean);
  return clip(JSON.stringify(parts.join(', ') || 'unknown').slice(1, -1));
}

/**
 * Classifies a `tlsClientError`: `err` from Node, `authorizationError` the verification code Node
 * set before it closed the socket, `cert` the client's certificate when it was seen.
 */
export function classifyHandshakeFailure(err: NodeJS.ErrnoException & { reason?: string }, authorizationError: string | undefined, cert: PeerCertificate | undefined): HandshakeFailure {
  const subject = cert?.subject ? ` for ${dn(cert.subject)}` : '';
  if (authorizationError) {
    if (UNTRUSTED.has(authorizationError)) {
      return {
        reason: 'untrusted',
        message: `client certificate${subject} not trusted (issuer ${dn(cert?.issuer)}; ${authorizationError}): add its CA to tls.ca_file`,
        notable: true,
      };
    }
    if (authorizationError === 'CERT_HAS_EXPIRED') {
      return { reason: 'expired', message: `client certificate${subject} expired${cert?.valid_to ? ` on ${cert.valid_to}` : ''}`, notable: true };
    }
    if (authorizationError === 'CERT_NOT_YET_VALID') {
      return { reason: 'not_yet_valid', message: `client certificate${subject} not valid before ${cert?.valid_from ?? 'its start date'} (check the clocks)`, notable: true };
    }
    if (authorizationError === 'INVALID_PURPOSE') {
      return { reason: 'wrong_purpose', message: `client certificate${subject} is not for client authentication (its extendedKeyUsage lacks clientAuth)`, notable: true };
    }
    return { reason: 'other', message: `client certificate${subject} refused: ${authorizationError}`, notable: true };
  }
  const code = err.code ?? '';
  if (code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE') return { reason: 'no_certificate', message: 'client sent no certificate', notable: true };
  if (code === 'ERR_SSL_UNSUPPORTED_PROTOCOL' || code === 'ERR_SSL_NO_PROTOCOLS_AVAILABLE' || code === 'ERR_SSL_WRONG_VERSION_NUMBER' && /version/i.test(err.reason ?? '')) {
    return { reason: 'protocol_version', message: 'TLS 1.1 or older refused: vehicles must use TLS 1.2 or newer', notable: true };
  }
  if (code === 'ERR_SSL_HTTP_REQUEST') return { reason: 'plain_http', message: 'plain HTTP sent to the TLS port (use https://)', notable: true };
  if (/^ERR_SSL_(SSLV3_|TLSV1_)?ALERT_(CERTIFICATE_UNKNOWN|BAD_CERTIFICATE|UNKNOWN_CA)$/.test(code)) {
    return { reason: 'server_refused', message: "the client refused the server's certificate: check the CA chain the vehicle was given", notable: true };
  }
  if (code === 'ECONNRESET' || /hang up|ETIMEDOUT/.test(err.message)) {
    return { reason: 'closed_early', message: 'connection closed during the TLS handshake', notable: false };
  }
  return { reason: 'other', message: `TLS handshake failed: ${clip(err.reason ?? err.message.split('\n')[0])}`, notable: true };
}

export type LimitedLog = (level: 'warn' | 'info' | 'debug', key: string, fields: { event: string } & Record<string, unknown>, msg: string) => void;

/**
 * Lines about connections that never became sessions (refused certificates, failed handshakes,
 * socket errors): a client can cause them as fast as it can connect, so each kind (event and
 * reason) gets 5 lines a minute, then a count of what was left out.
 */
export function limitedLog(logger: Logger, events: ServerEvents, opts: { burst?: number; maxKeys?: number } = {}): LimitedLog {
  const limiter = new LogLimiter({ burst: opts.burst ?? 5, intervalMs: 60_000, renew: true, maxKeys: opts.maxKeys ?? 64 });
  return (level, key, fields, msg) => {
    if (!logger.isLevelEnabled(level)) return;
    const d = limiter.take(key, Date.now());
    if (d.suppressed) logger.info({ event: 'log_suppressed', suppressed_event: fields.event, key, count: d.suppressed }, `${d.suppressed} ${fields.event} lines left out in the last minute`);
    if (d.write) logger[level](fields, msg);
    else events.logSuppressed(fields.event);
  };
}

/**
 * Handshake failures in plain words. Node closes a socket whose certificate does not verify
 * before anything can ask it for that certificate, so it is kept as the handshake completes:
 * 'keylog' is the one public event that hands over the socket before its 'secure' event.
 */
export function watchHandshakes(https: HttpsServer, limited: LimitedLog, events: ServerEvents): void {
  const seen = new WeakMap<TLSSocket, { remote?: string; cert?: PeerCertificate }>();
  https.on('keylog', (_line: Buffer, socket: TLSSocket) => {
    if (seen.has(socket)) return;
    const info: { remote?: string; cert?: PeerCertificate } = { remote: socket.remoteAddress };
    seen.set(socket, info);
    socket.prependOnceListener('secure', () => {
      info.cert = socket.getPeerCertificate();
    });
  });
  // Accepted: nothing left to explain, so the certificate (with its DER bytes and fingerprints,
  // about 2 kB) is not kept for the whole life of the connection.
  https.on('secureConnection', (socket: TLSSocket) => seen.delete(socket));
  https.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
    const info = seen.get(socket);
    const f = classifyHandshakeFailure(err, socket.authorizationError ? String(socket.authorizationError) : undefined, info?.cert);
    events.handshakeFailed(f.reason);
    const line = { event: 'tls_handshake_failed', remote: socket.remoteAddress ?? info?.remote, reason: f.reason, detail: f.message };
    limited(f.notable ? 'warn' : 'debug', `tls_handshake_failed:${f.reason}`, line, `TLS handshake refused: ${f.message}`);
  });
}
