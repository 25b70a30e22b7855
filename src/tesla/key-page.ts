import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { SecureContextOptions } from 'node:tls';
import { PUBLIC_KEY_PATH } from './app-key.js';

export interface PublicKeyPage {
  port: number;
  /** New certificate and key for new handshakes (a renewal); open connections keep theirs. */
  setCertificate(cert: string, key: string): void;
  close(): Promise<void>;
}

/**
 * The page Tesla and the owner's phone fetch the application's public key from: HTTPS with the
 * vehicle listener's certificate, no client certificate asked (a phone has none), exactly one
 * path. Everything else is 404 and an Upgrade is refused: vehicles never come here, and the
 * vehicle listener keeps refusing a client without a certificate at the handshake.
 */
export async function startPublicKeyPage(opts: { host: string; port: number; cert: string; key: string; publicPem: string }): Promise<PublicKeyPage> {
  const tls: SecureContextOptions = { cert: opts.cert, key: opts.key };
  const server: Server = createServer({ ...tls, requestCert: false, minVersion: 'TLSv1.2' }, (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    const head = req.method === 'HEAD';
    if ((req.method === 'GET' || head) && path === PUBLIC_KEY_PATH) {
      res.writeHead(200, { 'content-type': 'application/x-pem-file', 'content-length': Buffer.byteLength(opts.publicPem), 'cache-control': 'no-cache' });
      res.end(head ? undefined : opts.publicPem);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  server.on('upgrade', (_req, socket: Socket) => {
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });
  // A scanner's broken handshake is no error of the page.
  server.on('tlsClientError', () => {});
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
  return {
    port,
    setCertificate: (cert, key) => server.setSecureContext({ cert, key, minVersion: 'TLSv1.2' }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
