import { request } from 'node:https';
import { FleetTelemetryError, HttpRefusal } from '../errors.js';
import type { SignedBody } from './sign-body.js';

/** A request that gets no answer within this fails (a command must not hang on a dead host). */
const FLEET_API_TIMEOUT_MS = 30_000;

export interface ApiAnswer {
  status: number;
  body: unknown;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Tesla's words for a failed call: its `error` and `error_description`, never the token. */
function httpError(method: string, path: string, a: ApiAnswer): HttpRefusal {
  const b = isObj(a.body) ? a.body : {};
  const said = [b.error, b.error_description].filter((x) => typeof x === 'string' && x).join(': ');
  const hint =
    a.status === 401
      ? ' (the token is expired or not accepted: get a new one)'
      : a.status === 403
        ? ' (the token lacks a scope this call needs, or the wrong kind of token: a partner token for partner endpoints)'
        : a.status === 412
          ? ' (this call must be signed: use tesla push, not a plain POST)'
          : a.status === 421
            ? " (this account is in another region: give that region's --region)"
            : '';
  return new HttpRefusal('FLEET_API_HTTP', a.status, `${method} ${path}: HTTP ${a.status}${said ? ` ${said}` : ''}${hint}`);
}

/** The Fleet API calls this project makes, with one bearer token. */
export class FleetApiClient {
  constructor(
    readonly base: string,
    private readonly token: string,
    private readonly userAgent = 'fleet-telemetry',
  ) {}

  /** One JSON call; a non-2xx answer or no answer is a coded error. */
  async call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    const a = await this.raw(method, path, body);
    if (a.status < 200 || a.status > 299) throw httpError(method, path, a);
    return a.body;
  }

  raw(method: 'GET' | 'POST', path: string, body?: unknown): Promise<ApiAnswer> {
    const url = new URL(this.base + path);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method,
          headers: {
            authorization: `Bearer ${this.token}`,
            accept: 'application/json',
            'user-agent': this.userAgent,
            // Tesla's conventions ask for it on every request.
            'content-type': 'application/json',
            ...(payload ? { 'content-length': payload.length } : {}),
          },
          timeout: FLEET_API_TIMEOUT_MS,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              // not JSON: kept as text for the error
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${FLEET_API_TIMEOUT_MS / 1000} s`), { code: 'ETIMEDOUT' })));
      req.on('error', (err: NodeJS.ErrnoException) =>
        reject(
          new FleetTelemetryError('FLEET_API_NETWORK', `${method} ${url.origin}${path}: ${err.code ?? ''} ${err.message}`.replace(/\s+/g, ' ').trim(), {
            cause: err,
          }),
        ),
      );
      req.end(payload);
    });
  }

  /** POST /api/1/vehicles/fleet_telemetry_config_jws: what was updated, what skipped and why. */
  async pushSignedConfig(signed: SignedBody): Promise<{ updated: number; skipped: Record<string, string[]> }> {
    const b = await this.call('POST', '/api/1/vehicles/fleet_telemetry_config_jws', signed);
    const r = isObj(b) && isObj(b.response) ? b.response : {};
    const skipped: Record<string, string[]> = {};
    if (isObj(r.skipped_vehicles)) {
      for (const [reason, vins] of Object.entries(r.skipped_vehicles)) {
        if (Array.isArray(vins) && vins.length) skipped[reason] = vins.map(String);
      }
    }
    return { updated: typeof r.updated_vehicles === 'number' ? r.updated_vehicles : 0, skipped };
  }

  /** GET /api/1/vehicles/<VIN>/fleet_telemetry_config: the car's config and whether it has it. */
  async vehicleConfig(vin: string): Promise<{ synced: boolean; config?: Record<string, unknown>; response: Record<string, unknown> }> {
    const b = await this.call('GET', `/api/1/vehicles/${encodeURIComponent(vin)}/fleet_telemetry_config`);
    const r = isObj(b) && isObj(b.response) ? b.response : {};
    return { synced: r.synced === true, config: isObj(r.config) ? r.config : undefined, response: r };
  }

  /** GET /api/1/partner_accounts/fleet_telemetry_errors (a partner token): what cars reported. */
  async telemetryErrors(): Promise<Record<string, unknown>[]> {
    const b = await this.call('GET', '/api/1/partner_accounts/fleet_telemetry_errors');
    const r = isObj(b) ? b.response : undefined;
    const list = Array.isArray(r) ? r : isObj(r) && Array.isArray(r.fleet_telemetry_errors) ? r.fleet_telemetry_errors : [];
    return list.filter(isObj);
  }
}
