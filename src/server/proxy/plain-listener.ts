import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { LimitedLog } from '../handshake.js';
import type { ServerEvents } from '../events.js';
import type { TrustedProxies } from '../../config/trusted-proxies.js';

/** A fatal TLS alert (handshake_failure): a TLS client sees a refusal instead of a hang. */
const TLS_ALERT = Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]);

/** A TLS record starts with 0x16 (handshake) and a 3.x version; no HTTP method does. */
function looksLikeTls(bytes: Buffer | undefined): boolean {
  return !!bytes && bytes.length >= 3 && bytes[0] === 0x16 && bytes[1] === 0x03;
}

/**
 * The vehicle listener behind a TLS-terminating proxy: plain HTTP, served only to trusted_proxies.
 * Anyone else is closed as the connection is accepted, before a byte is read; a TLS handshake
 * (a vehicle or client connecting past the proxy) is refused with an alert and a warn line.
 */
export function createPlainListener(trusted: TrustedProxies, limited: LimitedLog, events: ServerEvents): Server {
  const server = createServer();
  server.prependListener('connection', (socket: Socket) => {
    if (trusted.has(socket.remoteAddress)) return;
    limited(
      'warn',
      'proxy_untrusted',
      { event: 'proxy_untrusted', remote: socket.remoteAddress },
      'connection refused: its address is not in tls.proxy.trusted_proxies',
    );
    events.handshakeFailed('untrusted_proxy');
    socket.destroy();
  });
  // Replaces Node's default answer to a malformed request, so a plain 400 is written here too.
  server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket) => {
    if (looksLikeTls(err.rawPacket)) {
      limited(
        'warn',
        'tls_at_plain_listener',
        { event: 'tls_at_plain_listener', remote: socket.remoteAddress },
        'TLS handshake refused: tls.proxy is set, so this port speaks plain HTTP to the proxy; vehicles must connect through the proxy, which ends mTLS',
      );
      events.handshakeFailed('tls_at_plain_listener');
      return closeWith(socket, TLS_ALERT);
    }
    closeWith(socket, err.code === 'ECONNRESET' ? undefined : 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  });
  return server;
}

/** Writes a last answer, then closes; a peer that does not read it is cut after a second. */
function closeWith(socket: Socket, last: Buffer | string | undefined): void {
  if (!last || !socket.writable) return void socket.destroy();
  socket.end(last, () => socket.destroy());
  setTimeout(() => socket.destroy(), 1000).unref();
}
