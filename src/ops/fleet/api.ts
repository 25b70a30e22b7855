import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FleetEventStreams } from './sse.js';
import type { FleetSource } from './types.js';

const VEHICLE_PREFIX = '/api/vehicles/';

function json(res: ServerResponse, head: boolean, status: number, v: unknown): void {
  const body = JSON.stringify(v) + '\n';
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
  res.end(head ? undefined : body);
}

/** Serves a fleet-view path; false when `path` is not one. */
export async function serveFleetApi(
  req: IncomingMessage,
  res: ServerResponse,
  head: boolean,
  path: string,
  source: FleetSource,
  streams: FleetEventStreams,
): Promise<boolean> {
  if (path === '/api/fleet') {
    const { body } = await source.changes(0);
    json(res, head, 200, body);
    return true;
  }
  if (path.startsWith(VEHICLE_PREFIX)) {
    let vin: string;
    try {
      vin = decodeURIComponent(path.slice(VEHICLE_PREFIX.length));
    } catch {
      vin = '';
    }
    const d = vin ? await source.vehicle(vin) : undefined;
    if (!d) json(res, head, 404, { error: 'unknown vehicle' });
    else json(res, head, 200, d);
    return true;
  }
  if (path === '/api/events') {
    if (head) {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' }).end();
      return true;
    }
    const vin = new URL(req.url ?? '/', 'http://x').searchParams.get('vin') ?? undefined;
    await streams.open(req, res, vin || undefined);
    return true;
  }
  return false;
}
