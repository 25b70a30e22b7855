import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Readiness, VehicleView } from './metrics.js';
import { serveFleetApi } from './fleet/api.js';
import { FleetEventStreams } from './fleet/sse.js';
import type { FleetSource } from './fleet/types.js';
import { findWebDir, pageResponse } from './page.js';
import { fleetGuard } from './access/guard.js';
import { exposureWarning, fleetAccess, type FleetAccess } from './access/policy.js';

/** What the endpoints show: one server's ServerMetrics, or the primary's view over its workers. */
export interface MonitorSource {
  registry: { metrics(): Promise<string>; contentType: string };
  readiness(): Readiness | Promise<Readiness>;
  vehicles(): VehicleView[] | Promise<VehicleView[]>;
}

export interface MonitorServer {
  host: string;
  port: number;
  close(): Promise<void>;
}

/** The endpoints served, for the 404 body and the docs. */
const MONITOR_PATHS = ['/', '/metrics', '/livez', '/readyz', '/vehicles', '/api/fleet', '/api/vehicles/<VIN>', '/api/events'] as const;

function send(res: ServerResponse, head: boolean, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
  res.end(head ? undefined : body);
}

const json = (res: ServerResponse, head: boolean, status: number, v: unknown) => send(res, head, status, 'application/json', JSON.stringify(v) + '\n');

/**
 * Plain HTTP apart from the vehicle port: /metrics for Prometheus, /livez and /readyz for the
 * load balancer or orchestrator, /vehicles for people. Bind it to a private address.
 */
export async function startMonitor(opts: {
  host: string;
  port: number;
  metrics: MonitorSource;
  logger: Logger;
  fleet?: FleetSource;
  access?: FleetAccess;
}): Promise<MonitorServer> {
  const { metrics, logger, fleet } = opts;
  // Without a rule given, the safe one: open on loopback only.
  const access = opts.access ?? fleetAccess(opts.host, { public: false });
  const guard = fleetGuard(access, logger);
  const streams = fleet && new FleetEventStreams(fleet, logger);
  const webDir = findWebDir();
  if (!webDir) logger.warn({ event: 'fleet_page_missing' }, 'web/ not found in the package: the fleet page at / answers 404');
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const head = req.method === 'HEAD';
    if (await guard.handle(req, res, (req.url ?? '').split('?')[0], head)) return;
    if (req.method !== 'GET' && !head) {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const path = (req.url ?? '').split('?')[0];
    if (fleet && path.startsWith('/api/') && (await serveFleetApi(req, res, head, path, fleet, streams!))) return;
    switch (path) {
      case '/metrics': {
        const body = await metrics.registry.metrics();
        return send(res, head, 200, metrics.registry.contentType, body);
      }
      case '/livez':
        // The process answers: nothing else is checked, so a broker outage never restarts it.
        return send(res, head, 200, 'text/plain', 'ok\n');
      case '/readyz': {
        const r = await metrics.readiness();
        return json(res, head, r.ready ? 200 : 503, r);
      }
      case '/vehicles': {
        const vehicles = await metrics.vehicles();
        return json(res, head, 200, { count: vehicles.length, vehicles });
      }
      default: {
        // The fleet page (/ and /assets/<file>), from a fixed list of files.
        const page = await pageResponse(path, webDir);
        if (page) {
          res.writeHead(page.status, { ...page.headers, 'content-length': Buffer.byteLength(page.body) });
          return void res.end(head ? undefined : page.body);
        }
        return send(res, head, 404, 'text/plain', `not found; try ${MONITOR_PATHS.join(', ')}\n`);
      }
    }
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      logger.error({ event: 'monitoring_error', path: req.url, reason: (err as Error).message }, 'monitoring request failed');
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
  const warning = exposureWarning(opts.host, port, access);
  if (warning) logger.warn({ event: 'monitoring_exposed', host: opts.host, port, fleet_view: access.kind === 'open' ? 'public' : access.kind }, warning);
  return {
    host: opts.host,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        streams?.close();
        server.close(() => resolve());
        // Scrapers keep connections alive; they must not hold the shutdown.
        server.closeAllConnections();
      }),
  };
}
