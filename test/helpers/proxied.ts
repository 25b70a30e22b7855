import { X509Certificate } from 'node:crypto';
import { connect } from 'node:net';
import WebSocket from 'ws';
import type { KeyPairPem } from '../../src/tls/dev-certs.js';

/** The header nginx's $ssl_client_escaped_cert makes: the PEM, URL-encoded. */
export const escapedPem = (cert: KeyPairPem) => encodeURIComponent(cert.certPem);
/** The header haproxy's ssl_c_der,base64 makes: the DER, base64. */
export const base64Der = (cert: KeyPairPem) => new X509Certificate(cert.certPem).raw.toString('base64');

/** A WebSocket upgrade as a proxy makes it: plain HTTP, with the headers given. */
export function proxiedUpgrade(port: number, headers: Record<string, string | string[]>): Promise<{ ws?: WebSocket; status?: number; body?: string }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { headers: headers as Record<string, string> });
    ws.once('open', () => resolve({ ws }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    ws.once('error', (err) => resolve({ body: err.message }));
  });
}

/**
 * Raw bytes to a port from a given local address; resolves with what came back once the peer
 * closed (or after `ms`), and whether it closed.
 */
export function rawExchange(
  port: number,
  bytes: Buffer | string,
  opts: { localAddress?: string; ms?: number } = {},
): Promise<{ received: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = connect({ port, host: '127.0.0.1', localAddress: opts.localAddress });
    let closed = false;
    const done = () => {
      clearTimeout(timer);
      s.destroy();
      resolve({ received: Buffer.concat(chunks), closed });
    };
    const timer = setTimeout(done, opts.ms ?? 10_000);
    s.on('connect', () => s.write(bytes));
    s.on('data', (c) => chunks.push(c));
    s.on('error', () => {});
    s.on('close', () => {
      closed = true;
      done();
    });
  });
}
