import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import type { Config } from '../config/types.js';
import { fleetListingProblem, type FleetListing } from './fleet-listing.js';
import { UsageError } from './command.js';

/** A request that gets no answer within this is a failure (the view must not hang). */
const FETCH_TIMEOUT_MS = 5000;

export const ENABLE_HINT =
  'The server serves it only when monitoring.prometheus_metrics_port is set in its config (bound to monitoring.host, ' +
  '127.0.0.1 by default); pass --config FILE to read both from the config, or --url http://HOST:PORT.';

/** The monitoring port's base URL from --url: "http://host:port", "host:port" or ":port". */
export function baseFromUrl(raw: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw.startsWith(':') ? `127.0.0.1${raw}` : raw}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    throw new UsageError(`--url ${raw}: not a URL (give http://HOST:PORT)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`--url ${raw}: the monitoring port speaks http, not ${u.protocol.slice(0, -1)}`);
  if (u.search || u.hash) throw new UsageError(`--url ${raw}: give the port's address only, without ?query or #fragment`);
  return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
}

/**
 * The monitoring port's base URL from a server config, or why there is none. A wildcard bind
 * address is reached on loopback.
 */
export function baseFromConfig(cfg: Config, file: string): { base: string } | { missing: string } {
  const port = cfg.monitoring.prometheus_metrics_port;
  if (port === undefined) return { missing: `${file} sets no monitoring.prometheus_metrics_port, so that server has no monitoring port.` };
  if (port === 0) {
    throw new UsageError(
      `${file} sets monitoring.prometheus_metrics_port to 0 (any free port): pass --url with the port the server logged as monitoring_listening`,
    );
  }
  let host = cfg.monitoring.host;
  if (host === '' || host === '0.0.0.0') host = '127.0.0.1';
  else if (host === '::') host = '::1';
  return { base: `http://${host.includes(':') ? `[${host}]` : host}:${port}` };
}

export type FetchResult = { ok: true; body: FleetListing; text: string } | { ok: false; why: string };

/** Plain words for why a request found no server. */
function networkWhy(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'connection refused (nothing listens there: is the server running, with monitoring enabled?)';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host name not found';
    case 'ECONNRESET':
      return 'the connection was reset';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable';
    default:
      return err.message;
  }
}

/** A GET with node:http, not fetch(): fetch refuses some ports (6000, 6665-6669, …) a monitoring port may use. */
function get(url: string, signal?: AbortSignal): Promise<{ status: number; statusText: string; text: string }> {
  const client = url.startsWith('https:') ? httpsGet : httpGet;
  return new Promise((resolve, reject) => {
    const req = client(url, { headers: { accept: 'application/json' }, signal, timeout: FETCH_TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${FETCH_TIMEOUT_MS / 1000} s`), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
  });
}

/** GET the fleet view once. `signal` ends it early (the command is stopping). */
export async function fetchFleet(url: string, signal?: AbortSignal): Promise<FetchResult> {
  let res: Awaited<ReturnType<typeof get>>;
  try {
    res = await get(url, signal);
  } catch (err) {
    return { ok: false, why: networkWhy(err as NodeJS.ErrnoException) };
  }
  if (res.status === 404) return { ok: false, why: 'answered 404: no fleet view there (a server without /api/fleet, or not its monitoring port)' };
  if (res.status !== 200) return { ok: false, why: `answered ${res.status} ${res.statusText}`.trim() };
  let body: unknown;
  try {
    body = JSON.parse(res.text);
  } catch {
    return { ok: false, why: 'the answer is not JSON (is this the monitoring port?)' };
  }
  const problem = fleetListingProblem(body);
  if (problem) return { ok: false, why: `the answer is not a fleet view: ${problem}` };
  return { ok: true, body: body as FleetListing, text: res.text };
}
