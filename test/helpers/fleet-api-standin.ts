/**
 * A stand-in for Tesla's Fleet API: a real HTTPS server on a free loopback port with its own CA,
 * answering the calls `tesla push` and `tesla status` make as Tesla documents them, and checking
 * each request's method, path, headers and body. Every token is verified with the independent
 * verifier (helpers/tesla-verify.ts), never with the signer's code. Tested against this, not Tesla.
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCa, issueCert } from '../../src/tls/dev-certs.js';
import { independentVerifyToken } from './tesla-verify.js';

export type SkipReason = 'missing_key' | 'unsupported_firmware' | 'unsupported_hardware' | 'max_configs';

export interface Recorded {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface StandInOptions {
  dir: string;
  accessToken: string;
  partnerToken?: string;
  /** The application key Tesla has for the domain (65 bytes uncompressed). */
  appPublicRaw: Uint8Array;
  skip?: Record<string, SkipReason>;
  /** Reads of a car's config before it reports synced: true (default 2); Infinity: never. */
  syncAfterReads?: number;
  errors?: Record<string, unknown>[];
  /** The application's OAuth client, for the token endpoint (tesla login, tesla register). */
  clientId?: string;
  clientSecret?: string;
  /** Lifetime of the tokens the token endpoint issues, seconds (default 3600). */
  expiresIn?: number;
}

export interface StandIn {
  base: string;
  caFile: string;
  requests: Recorded[];
  /** Requests the stand-in refused, with why: a test asserts there are none. */
  refused: string[];
  /** The claims of the last verified token per VIN. */
  configs: Map<string, Record<string, unknown>>;
  /** Domains registered with POST /api/1/partner_accounts. */
  registered: string[];
  /** The access token currently valid (a refresh replaces it). */
  accessToken(): string;
  close(): Promise<void>;
}

const SKIP_REASONS: SkipReason[] = ['missing_key', 'unsupported_hardware', 'unsupported_firmware', 'max_configs'];

export async function startFleetApiStandIn(o: StandInOptions): Promise<StandIn> {
  const ca = await createCa({ commonName: 'Fleet API stand-in CA' });
  const leaf = await issueCert(ca, { commonName: 'localhost', kind: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const caFile = join(o.dir, `standin-ca-${process.pid}.pem`);
  writeFileSync(caFile, ca.certPem);
  const requests: Recorded[] = [];
  const refused: string[] = [];
  const configs = new Map<string, Record<string, unknown>>();
  const reads = new Map<string, number>();
  const iss = Buffer.from(o.appPublicRaw).toString('base64');
  const registered: string[] = [];
  let access = o.accessToken;
  let refresh = 'refresh-1';
  const codes = new Map<string, { redirectUri: string }>();
  let issued = 0;

  const server: Server = createServer({ cert: leaf.certPem, key: leaf.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const path = req.url ?? '';
      const method = req.method ?? '';
      requests.push({ method, path, headers: req.headers, body });
      const send = (status: number, json: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
      };
      const refuse = (status: number, error: string, why: string) => {
        refused.push(`${method} ${path}: ${why}`);
        send(status, { response: null, error, error_description: why });
      };
      const u = new URL(path, 'https://standin');
      // OAuth: the login page sends the browser straight back with a code (no person here).
      if (u.pathname === '/oauth2/v3/authorize') {
        const q = u.searchParams;
        if (method !== 'GET') return refuse(405, 'invalid_request', `method ${method}`);
        if (
          q.get('response_type') !== 'code' ||
          q.get('client_id') !== o.clientId ||
          !q.get('redirect_uri') ||
          !q.get('state') ||
          !q.get('scope')?.includes('openid')
        ) {
          return refuse(400, 'invalid_request', `authorize parameters: ${u.search}`);
        }
        const code = `code-${++issued}`;
        codes.set(code, { redirectUri: q.get('redirect_uri')! });
        const back = new URL(q.get('redirect_uri')!);
        back.searchParams.set('code', code);
        back.searchParams.set('state', q.get('state')!);
        res.writeHead(302, { location: back.toString() }).end();
        return;
      }
      if (u.pathname === '/oauth2/v3/token') {
        if (method !== 'POST') return refuse(405, 'invalid_request', `method ${method}`);
        if (!String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded'))
          return refuse(400, 'invalid_request', 'token request is not form-encoded');
        const f = new URLSearchParams(body);
        if (f.get('client_id') !== o.clientId) return refuse(401, 'invalid_client', 'unknown client_id');
        const expires_in = o.expiresIn ?? 3600;
        const grant = f.get('grant_type');
        if (grant === 'authorization_code') {
          const c = codes.get(f.get('code') ?? '');
          if (!c) return refuse(400, 'invalid_grant', 'unknown code');
          if (f.get('client_secret') !== o.clientSecret) return refuse(401, 'invalid_client', 'wrong client_secret');
          if (f.get('redirect_uri') !== c.redirectUri) return refuse(400, 'invalid_grant', 'redirect_uri differs from the authorize one');
          if (f.get('audience') !== `https://127.0.0.1:${port}`) return refuse(400, 'invalid_request', `audience ${f.get('audience')}`);
          codes.delete(f.get('code')!);
          return send(200, { access_token: access, refresh_token: refresh, id_token: 'x', expires_in, token_type: 'Bearer', state: 'x' });
        }
        if (grant === 'refresh_token') {
          if (f.get('refresh_token') !== refresh) return refuse(401, 'invalid_grant', 'refresh token not valid (used already?)');
          access = `${o.accessToken}-r${++issued}`;
          refresh = `refresh-${issued}`;
          return send(200, { access_token: access, refresh_token: refresh, expires_in, token_type: 'Bearer' });
        }
        if (grant === 'client_credentials') {
          if (f.get('client_secret') !== o.clientSecret) return refuse(401, 'invalid_client', 'wrong client_secret');
          if (f.get('audience') !== `https://127.0.0.1:${port}`) return refuse(400, 'invalid_request', `audience ${f.get('audience')}`);
          return send(200, { access_token: o.partnerToken, expires_in, token_type: 'Bearer' });
        }
        return refuse(400, 'unsupported_grant_type', String(grant));
      }
      const bearer = req.headers.authorization;
      const partnerCall = path.startsWith('/api/1/partner_accounts/');
      const partnerOnly = partnerCall || path === '/api/1/partner_accounts';
      const want = partnerOnly ? o.partnerToken : access;
      if (!want || bearer !== `Bearer ${want}`)
        return refuse(401, 'invalid_token', partnerOnly ? 'a partner token is required' : 'the bearer token is not valid');
      if (req.headers.accept !== undefined && !String(req.headers.accept).includes('application/json'))
        return refuse(406, 'invalid_request', 'accept is not application/json');

      if (method === 'POST' && path === '/api/1/vehicles/fleet_telemetry_config') {
        return refuse(412, 'This endpoint must be called through the Vehicle Command HTTP Proxy', 'unsigned config');
      }
      if (path === '/api/1/vehicles/fleet_telemetry_config_jws') {
        if (method !== 'POST') return refuse(405, 'invalid_request', `method ${method}`);
        if (!String(req.headers['content-type']).startsWith('application/json')) return refuse(400, 'invalid_request', 'content-type is not application/json');
        let j: { vins?: unknown; token?: unknown };
        try {
          j = JSON.parse(body) as typeof j;
        } catch {
          return refuse(400, 'invalid_request', 'body is not JSON');
        }
        const keys = Object.keys(j).sort().join(',');
        if (keys !== 'token,vins') return refuse(400, 'invalid_request', `body keys are ${keys}, not token,vins`);
        if (!Array.isArray(j.vins) || j.vins.length === 0 || !j.vins.every((v) => typeof v === 'string'))
          return refuse(400, 'invalid_field', 'vins is not a list of VINs');
        if (typeof j.token !== 'string') return refuse(400, 'invalid_field', 'token is not a string');
        let d;
        try {
          d = independentVerifyToken(j.token, o.appPublicRaw);
        } catch (err) {
          return refuse(400, 'invalid_field', `token does not parse: ${(err as Error).message}`);
        }
        if (!d.valid) return refuse(400, 'invalid_field', 'InvalidSignature: unknown issuer');
        if (d.header.typ !== 'JWT') return refuse(400, 'invalid_field', 'typ is not JWT');
        if (d.claims.iss !== iss) return refuse(400, 'invalid_field', 'iss is not the registered key');
        const vins = j.vins;
        const fleetAud = 'com.tesla.fleet.TelemetryClient';
        const vinAud = vins.length === 1 ? `com.tesla.vehicle.${vins[0]}.TelemetryClient` : undefined;
        if (d.claims.aud !== fleetAud && d.claims.aud !== vinAud) return refuse(400, 'invalid_field', `aud ${String(d.claims.aud)} does not fit vins`);
        const c = d.claims;
        if (typeof c.hostname !== 'string' || typeof c.ca !== 'string' || typeof c.fields !== 'object' || typeof c.exp !== 'number') {
          return refuse(422, 'invalid_field', 'config lacks hostname, ca, fields or exp');
        }
        const skipped: Record<string, string[]> = Object.fromEntries(SKIP_REASONS.map((r) => [r, []]));
        let updated = 0;
        for (const v of vins) {
          const r = o.skip?.[v];
          if (r) skipped[r].push(v);
          else {
            const { iss: _i, aud: _a, ...config } = c;
            configs.set(v, config);
            reads.set(v, 0);
            updated++;
          }
        }
        return send(200, { response: { updated_vehicles: updated, skipped_vehicles: skipped } });
      }
      const m = /^\/api\/1\/vehicles\/([A-Za-z0-9_-]+)\/fleet_telemetry_config$/.exec(path);
      if (m) {
        if (method !== 'GET') return refuse(405, 'invalid_request', `method ${method}`);
        const vin = m[1];
        const config = configs.get(vin);
        const n = (reads.get(vin) ?? 0) + 1;
        reads.set(vin, n);
        const synced = config !== undefined && n > (o.syncAfterReads ?? 2);
        return send(200, { response: { synced, config: config ?? null, limit_reached: false, key_paired: o.skip?.[vin] !== 'missing_key' } });
      }
      if (path === '/api/1/partner_accounts') {
        if (method !== 'POST') return refuse(405, 'invalid_request', `method ${method}`);
        let j: { domain?: unknown };
        try {
          j = JSON.parse(body) as typeof j;
        } catch {
          return refuse(400, 'invalid_request', 'body is not JSON');
        }
        if (typeof j.domain !== 'string' || Object.keys(j).length !== 1) return refuse(400, 'invalid_field', 'body is not {domain}');
        registered.push(j.domain);
        return send(200, { response: { client_id: o.clientId, domain: j.domain, public_key: Buffer.from(o.appPublicRaw).toString('hex') } });
      }
      if (u.pathname === '/api/1/partner_accounts/public_key') {
        const d = u.searchParams.get('domain');
        return send(200, { response: { public_key: d && registered.includes(d) ? Buffer.from(o.appPublicRaw).toString('hex') : '' } });
      }
      if (path === '/api/1/partner_accounts/fleet_telemetry_errors') {
        if (method !== 'GET') return refuse(405, 'invalid_request', `method ${method}`);
        return send(200, { response: { fleet_telemetry_errors: o.errors ?? [] } });
      }
      return refuse(404, 'not_found', 'no such endpoint');
    });
  });
  let port = 0;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  return {
    base: `https://127.0.0.1:${port}`,
    caFile,
    requests,
    refused,
    configs,
    registered,
    accessToken: () => access,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
