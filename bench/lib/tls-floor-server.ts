/**
 * The child of bench/tls-floor.ts: a bare Node https server with ws on it and nothing of the
 * project, so its RSS per connection is what Node and OpenSSL cost before any code of ours.
 * argv: cert key ca mtls(0|1) tickets(0|1). It tells the parent its port, then its memory on ask.
 */
import { constants } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

const [cert, key, ca, mtls, tickets] = process.argv.slice(2);
const server = createServer({
  cert: readFileSync(cert),
  key: readFileSync(key),
  ca: readFileSync(ca),
  requestCert: mtls === '1',
  rejectUnauthorized: mtls === '1',
  secureOptions: tickets === '1' ? 0 : constants.SSL_OP_NO_TICKET,
});
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
let open = 0;
server.on('upgrade', (req, socket, head) =>
  wss.handleUpgrade(req, socket, head, (ws) => {
    open++;
    ws.on('message', () => {});
    ws.on('close', () => open--);
  }),
);
server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as AddressInfo).port }));
process.on('message', () => {
  // Settled figures: a full collection first, then a moment for the allocator.
  (globalThis as { gc?: () => void }).gc?.();
  setTimeout(() => {
    const m = process.memoryUsage();
    process.send!({ open, rss: m.rss, heapUsed: m.heapUsed });
  }, 500);
});
