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
import { createCa, issueCert } from '../../src/tls/devcerts.js';
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
}

export interface StandIn {
  base: string;
  caFile: string;
  requests: Recorded[];
  /** Requests the stand-in refused, with why: a test asserts there are none. */
  refused: string[];
  /** The claims of the last verified token per VIN. */
  configs: Map<string, Record<string, unknown>>;
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
      const bearer = req.headers.authorization;
      const partnerCall = path.startsWith('/api/1/partner_accounts/');
      const want = partnerCall ? o.partnerToken : o.accessToken;
      if (!want || bearer !== `Bearer ${want}`) return refuse(401, 'invalid_token', partnerCall ? 'a partner token is required' : 'the bearer token is not valid');
      if (req.headers.accept !== undefined && !String(req.headers.accept).includes('application/json')) return refuse(406, 'invalid_request', 'accept is not application/json');

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
        if (!Array.isArray(j.vins) || j.vins.length === 0 || !j.vins.every((v) => typeof v === 'string')) return refuse(400, 'invalid_field', 'vins is not a list of VINs');
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
        const vins = j.vins as string[];
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
      if (path === '/api/1/partner_accounts/fleet_telemetry_errors') {
        if (method !== 'GET') return refuse(405, 'invalid_request', `method ${method}`);
        return send(200, { response: { fleet_telemetry_errors: o.errors ?? [] } });
      }
      return refuse(404, 'not_found', 'no such endpoint');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    base: `https://127.0.0.1:${port}`,
    caFile,
    requests,
    refused,
    configs,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
