import type { Server as HttpsServer } from 'node:https';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { LogLimiter, shortenForLog } from '../log-limit.js';
import type { ServerEvents } from './events.js';
import { UNTRUSTED_CHAIN } from '../tls/verify-codes.js';

/** Why a vehicle's TLS handshake failed, as a metric label and a sentence an operator can act on. */
export interface HandshakeFailure {
  reason:
    | 'no_certificate'
    | 'untrusted'
    | 'server_refused'
    | 'expired'
    | 'not_yet_valid'
    | 'wrong_purpose'
    | 'protocol_version'
    | 'plain_http'
    | 'closed_early'
    | 'other';
  message: string;
  /** Worth an operator's attention (warn); a connection closed mid-handshake is usually a probe. */
  notable: boolean;
  /** The TLS alert the client sent, as its RFC 8446 name (`bad_certificate`), when one came. */
  alert?: string;
}

/** Alerts a client sends when it does not accept the server's certificate. */
const REFUSAL_ALERT =
  /^ERR_SSL_(?:SSLV3_|TLSV1_)?ALERT_(BAD_CERTIFICATE|UNSUPPORTED_CERTIFICATE|CERTIFICATE_REVOKED|CERTIFICATE_EXPIRED|CERTIFICATE_UNKNOWN|UNKNOWN_CA)$/;

function dn(name: PeerCertificate['issuer'] | undefined): string {
  if (!name) return 'unknown';
  const cn = name.CN as unknown;
  const o = name.O as unknown;
  const first = (v: unknown) => String(Array.isArray(v) ? v[0] : v);
  const parts = [cn !== undefined ? `CN=${first(cn)}` : '', o !== undefined ? `O=${first(o)}` : ''].filter(Boolean);
  return shortenForLog(JSON.stringify(parts.join(', ') || 'unknown').slice(1, -1));
}

/**
 * Classifies a `tlsClientError`: `err` from Node, `authorizationError` the verification code Node
 * set before it closed the socket, `cert` the client's certificate when it was seen.
 */
export function classifyHandshakeFailure(
  err: NodeJS.ErrnoException & { reason?: string },
  authorizationError: string | undefined,
  cert: PeerCertificate | undefined,
): HandshakeFailure {
  const subject = cert?.subject ? ` for ${dn(cert.subject)}` : '';
  if (authorizationError) {
    if (UNTRUSTED_CHAIN.has(authorizationError)) {
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
      return {
        reason: 'not_yet_valid',
        message: `client certificate${subject} not valid before ${cert?.valid_from ?? 'its start date'} (check the clocks)`,
        notable: true,
      };
    }
    if (authorizationError === 'INVALID_PURPOSE') {
      return {
        reason: 'wrong_purpose',
        message: `client certificate${subject} is not for client authentication (its extendedKeyUsage lacks clientAuth)`,
        notable: true,
      };
    }
    return { reason: 'other', message: `client certificate${subject} refused: ${authorizationError}`, notable: true };
  }
  const code = err.code ?? '';
  if (code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE') return { reason: 'no_certificate', message: 'client sent no certificate', notable: true };
  if (
    code === 'ERR_SSL_UNSUPPORTED_PROTOCOL' ||
    code === 'ERR_SSL_NO_PROTOCOLS_AVAILABLE' ||
    (code === 'ERR_SSL_WRONG_VERSION_NUMBER' && /version/i.test(err.reason ?? ''))
  ) {
    return { reason: 'protocol_version', message: 'TLS 1.1 or older refused: vehicles must use TLS 1.2 or newer', notable: true };
  }
  if (code === 'ERR_SSL_HTTP_REQUEST') return { reason: 'plain_http', message: 'plain HTTP sent to the TLS port (use https://)', notable: true };
  const alert = REFUSAL_ALERT.exec(code)?.[1].toLowerCase();
  if (alert) {
    return {
      reason: 'server_refused',
      alert,
      message: `the client refused the server's certificate (alert ${alert}): check the name it connects to and the CA chain it was given`,
      notable: true,
    };
  }
  if (code === 'ECONNRESET' || /hang up|ETIMEDOUT/.test(err.message)) {
    return { reason: 'closed_early', message: 'connection closed during the TLS handshake', notable: false };
  }
  return { reason: 'other', message: `TLS handshake failed: ${shortenForLog(err.reason ?? err.message.split('\n')[0])}`, notable: true };
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
    if (d.suppressed)
      logger.info(
        { event: 'log_suppressed', suppressed_event: fields.event, key, count: d.suppressed },
        `${d.suppressed} ${fields.event} lines left out in the last minute`,
      );
    if (d.write) logger[level](fields, msg);
    else events.logSuppressed(fields.event);
  };
}

/**
 * A client that does not accept the server's certificate but sends no alert (Node's TLS client:
 * it judges the certificate once its side of the handshake is done, then just closes). What the
 * server sees: with TLS 1.3 the connection closes after the server's whole flight (certificate
 * and Finished) went out and before the client's Finished came; with TLS 1.2 the handshake
 * completes and the connection closes before any request. A probe that closes as soon as it has
 * the certificate looks the same, and the message says so. Pure.
 */
export function closedAfterCertificate(stage: 'before_client_finished' | 'before_request'): HandshakeFailure {
  const when =
    stage === 'before_client_finished' ? "after the server's certificate, before finishing the handshake" : 'after the handshake without sending any request';
  return {
    reason: 'server_refused',
    message:
      `the client closed the connection ${when}: it likely refused the server's certificate (a name the certificate does not cover, ` +
      'or a CA it was not given); a TLS probe that closes once it has the certificate looks the same',
    notable: true,
  };
}

interface Seen {
  remote?: string;
  cert?: PeerCertificate;
  /** The server sent its Finished (TLS 1.3: its certificate went out with it). */
  serverFinished?: boolean;
}

/**
 * Handshake failures in plain words. Node closes a socket whose certificate does not verify
 * before anything can ask it for that certificate, so it is kept as the handshake completes:
 * 'keylog' is the one public event that hands over the socket before its 'secure' event.
 * A client refusing the server's certificate is `server_refused` (see closedAfterCertificate).
 */
export function watchHandshakes(https: HttpsServer, limited: LimitedLog, events: ServerEvents): void {
  const seen = new WeakMap<TLSSocket, Seen>();
  const requested = new WeakSet<object>();
  const refused = (socket: TLSSocket, f: HandshakeFailure) => {
    const line = { event: 'server_refused', remote: socket.remoteAddress ?? seen.get(socket)?.remote, sni: sniOf(socket), alert: f.alert, detail: f.message };
    limited('warn', `server_refused:${f.alert ?? 'closed'}`, line, `client refused the server: ${f.message}`);
  };
  https.on('keylog', (line: Buffer, socket: TLSSocket) => {
    let info = seen.get(socket);
    if (!info) {
      seen.set(socket, (info = { remote: socket.remoteAddress }));
      const i = info;
      socket.prependOnceListener('secure', () => {
        i.cert = socket.getPeerCertificate();
      });
    }
    // OpenSSL derives the server's application secret right after it sends its Finished.
    if (line.subarray(0, 23).toString('latin1') === 'SERVER_TRAFFIC_SECRET_0') info.serverFinished = true;
  });
  // Accepted: nothing left to explain, so the certificate (with its DER bytes and fingerprints,
  // about 2 kB) is not kept for the whole life of the connection.
  https.on('secureConnection', (socket: TLSSocket) => {
    seen.delete(socket);
    const closedEarly = () => {
      if (requested.has(socket)) return;
      requested.add(socket); // once
      events.handshakeFailed('server_refused');
      refused(socket, closedAfterCertificate('before_request'));
    };
    // Closed by the client: the server's own timeouts and shutdown destroy it without an 'end'.
    socket.once('end', closedEarly);
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET') closedEarly();
    });
  });
  https.on('request', (req: { socket: object }) => requested.add(req.socket));
  https.on('upgrade', (req: { socket: object }) => requested.add(req.socket));
  https.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
    const info = seen.get(socket);
    let f = classifyHandshakeFailure(err, socket.authorizationError ? String(socket.authorizationError) : undefined, info?.cert);
    if (f.reason === 'closed_early' && info?.serverFinished) f = closedAfterCertificate('before_client_finished');
    events.handshakeFailed(f.reason);
    if (f.reason === 'server_refused') return refused(socket, f);
    const line = { event: 'tls_handshake_failed', remote: socket.remoteAddress ?? info?.remote, reason: f.reason, detail: f.message };
    limited(f.notable ? 'warn' : 'debug', `tls_handshake_failed:${f.reason}`, line, `TLS handshake refused: ${f.message}`);
  });
}

/** The name the client asked for (SNI), cut short; undefined when it sent none. */
function sniOf(socket: TLSSocket): string | undefined {
  const name = (socket as TLSSocket & { servername?: string | false }).servername;
  return typeof name === 'string' && name ? shortenForLog(name) : undefined;
}
