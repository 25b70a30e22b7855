import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readiness } from '../ops/readiness.js';
import { bindError } from './start-error.js';

export interface StatusServer {
  port: number;
  close(): void;
}

/**
 * status_port, for load balancers: /status is liveness (as Tesla's server), /readyz whether
 * records can be acked now. Nothing here lists vehicles: this port may face the network.
 * `readiness` is one server's, or (with workers) the primary's view over every worker.
 */
export async function startStatusServer(opts: {
  host: string;
  port: number;
  readiness?: () => Readiness | Promise<Readiness>;
  stopping: () => boolean;
}): Promise<StatusServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    const head = req.method === 'HEAD';
    if (req.method !== 'GET' && !head) return void res.writeHead(405, { allow: 'GET, HEAD' }).end();
    if (path === '/status') return void res.writeHead(200, { 'content-type': 'text/plain' }).end(head ? undefined : 'ok');
    if (path !== '/readyz') return void res.writeHead(404).end();
    void Promise.resolve(opts.readiness?.() ?? { ready: true, producers: {} })
      .catch((err: unknown): Readiness => ({ ready: false, producers: {}, reason: (err as Error).message }))
      .then((r) => {
        const stopping = opts.stopping();
        const ready = r.ready && !stopping;
        const body = ready ? 'ready' : `not ready: ${stopping ? 'shutting down' : (r.reason ?? 'a producer cannot take records')}`;
        res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(head ? undefined : body);
      });
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  }).catch((err) => {
    throw bindError(err, 'status_port', opts.host, opts.port);
  });
  return {
    port,
    close: () => {
      server.close();
      server.closeAllConnections();
    },
  };
}
