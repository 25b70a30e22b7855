import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

/**
 * Who may read the fleet view (the page, /api/*, /vehicles): every VIN with its live location,
 * speed and charge. Open on loopback unless a token is configured; elsewhere only with the token,
 * or to anyone when the operator said so (`public`); otherwise closed.
 */
export type FleetAccess = { kind: 'open'; why: 'loopback' | 'public' } | { kind: 'token'; token: string } | { kind: 'closed' };

/** 127.0.0.0/8, ::1 and localhost; "", 0.0.0.0 and :: are every interface. */
function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
  return !!mapped && mapped[1].startsWith('127.');
}

export function fleetAccess(host: string, opts: { token?: string; public: boolean }): FleetAccess {
  if (opts.token !== undefined) return { kind: 'token', token: opts.token };
  if (isLoopback(host)) return { kind: 'open', why: 'loopback' };
  if (opts.public) return { kind: 'open', why: 'public' };
  return { kind: 'closed' };
}

/** Equal or not, in time that does not depend on where they differ (nor on the length given). */
export function tokenMatches(expected: string, given: string | undefined): boolean {
  if (given === undefined) return false;
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(given).digest();
  return timingSafeEqual(a, b);
}

/** The start-up warning for a monitoring listener off loopback: what is exposed, on which address. */
export function exposureWarning(host: string, port: number, access: FleetAccess): string | undefined {
  if (isLoopback(host)) return undefined;
  const at = `${host === '' ? '0.0.0.0' : host}:${port}`;
  const always = `/metrics, /livez and /readyz are open to the network on ${at}`;
  const fleet = 'the fleet page, /api/fleet, /api/vehicles/<VIN>, /api/events and /vehicles (every VIN, its location, speed and charge)';
  if (access.kind === 'token') return `${always}; ${fleet} answer only with the token of monitoring.fleet_view.token_file`;
  if (access.kind === 'open') return `${always}, and so are ${fleet}, to anyone (monitoring.fleet_view.public is true)`;
  return `${always}; ${fleet} are refused (403): set monitoring.fleet_view.token_file to serve them with a token`;
}

export const FLEET_COOKIE = 'ft_fleet';

/** The token a request carries: `Authorization: Bearer <token>`, or the login cookie. */
export function presentedToken(headers: { authorization?: string; cookie?: string }): string | undefined {
  const m = /^Bearer +(\S+) *$/i.exec(headers.authorization ?? '');
  if (m) return m[1];
  for (const part of (headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === FLEET_COOKIE) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** The page and the data behind it; /metrics, /livez, /readyz and the page's static assets are not. */
export function isFleetPath(path: string): boolean {
  return path === '/' || path === '/index.html' || path === '/vehicles' || path.startsWith('/api/');
}
