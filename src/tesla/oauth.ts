import { request } from 'node:https';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { FleetTelemetryError, HttpRefusal } from '../errors.js';

/** Tesla's documented OAuth hosts: the login page, and the token endpoint of the Fleet API. */
const TESLA_AUTHORIZE_BASE = 'https://auth.tesla.com';
const TESLA_TOKEN_BASE = 'https://fleet-auth.prd.vn.cloud.tesla.com';
export const DEFAULT_SCOPE = 'openid offline_access vehicle_device_data';

/** Where to log in and where to get tokens; --auth-base / TESLA_AUTH_BASE puts both on one host. */
export function authUrls(authBase?: string): { authorize: string; token: string } {
  const a = authBase?.replace(/\/+$/, '');
  return { authorize: `${a ?? TESLA_AUTHORIZE_BASE}/oauth2/v3/authorize`, token: `${a ?? TESLA_TOKEN_BASE}/oauth2/v3/token` };
}

/** The page the owner opens to let this application read the car (authorization code flow). */
export function authorizeUrl(o: { authorize: string; clientId: string; redirectUri: string; scope: string; state: string }): string {
  const u = new URL(o.authorize);
  u.search = new URLSearchParams({
    response_type: 'code',
    client_id: o.clientId,
    redirect_uri: o.redirectUri,
    scope: o.scope,
    state: o.state,
    prompt: 'login',
  }).toString();
  return u.toString();
}

export interface TokenAnswer {
  access_token: string;
  refresh_token?: string;
  expires_in?: number;
  token_type?: string;
}

/** POST to the token endpoint, form-encoded as OAuth wants; Tesla's error words, never a secret. */
export function tokenRequest(tokenUrl: string, form: Record<string, string>): Promise<TokenAnswer> {
  const body = Buffer.from(new URLSearchParams(form).toString());
  return new Promise((resolve, reject) => {
    const req = request(
      tokenUrl,
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', 'content-length': body.length },
        timeout: 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          let j: Record<string, unknown> = {};
          try {
            j = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
          } catch {
            // not JSON: said by status below
          }
          if (res.statusCode !== 200 || typeof j.access_token !== 'string') {
            const said = [j.error, j.error_description].filter((x) => typeof x === 'string').join(': ');
            return reject(
              new HttpRefusal(
                'AUTH_FAILED',
                res.statusCode ?? 0,
                `${form.grant_type} at ${new URL(tokenUrl).origin}: HTTP ${res.statusCode}${said ? ` ${said}` : ''}`,
              ),
            );
          }
          resolve(j as unknown as TokenAnswer);
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 30 s')));
    req.on('error', (err) => reject(new FleetTelemetryError('AUTH_FAILED', `${new URL(tokenUrl).origin}: ${err.message}`, { cause: err })));
    req.end(body);
  });
}

/** What `tesla login` keeps: enough to refresh without the owner (mode 0600: it is a secret). */
export interface StoredToken {
  access_token: string;
  refresh_token?: string;
  /** Epoch milliseconds. */
  expires_at?: number;
  client_id?: string;
  token_url?: string;
}

export function storedFrom(a: TokenAnswer, extra: { client_id?: string; token_url?: string }, now = Date.now()): StoredToken {
  return { access_token: a.access_token, refresh_token: a.refresh_token, expires_at: a.expires_in ? now + a.expires_in * 1000 : undefined, ...extra };
}

/** Written beside and renamed over, mode 0600 from the start: never a moment readable by others. */
export function writeTokenFile(file: string, t: StoredToken): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(t, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}

/** A refresh this long before expiry: a token good for one more minute may die mid-push. */
const REFRESH_MARGIN_MS = 60_000;

/**
 * The access token of a token file, refreshed first when it has expired (or is about to) and
 * the file holds a refresh token; the file is rewritten then, as Tesla's refresh tokens are
 * single-use.
 */
export async function accessTokenFrom(file: string, now = Date.now()): Promise<string> {
  let t: StoredToken;
  try {
    t = JSON.parse(readFileSync(file, 'utf8')) as StoredToken;
  } catch (err) {
    throw new FleetTelemetryError('TOKEN_STORE', `${file}: not a token file: ${(err as Error).message}`, { cause: err });
  }
  if (typeof t.access_token !== 'string' || !t.access_token) throw new FleetTelemetryError('TOKEN_STORE', `${file}: holds no access_token`);
  if (t.expires_at === undefined || t.expires_at - REFRESH_MARGIN_MS > now) return t.access_token;
  if (!t.refresh_token || !t.client_id || !t.token_url) {
    throw new FleetTelemetryError('TOKEN_STORE', `${file}: the access token expired and the file cannot refresh it: run tesla login again`);
  }
  const a = await tokenRequest(t.token_url, { grant_type: 'refresh_token', client_id: t.client_id, refresh_token: t.refresh_token });
  const next = storedFrom(a, { client_id: t.client_id, token_url: t.token_url }, now);
  next.refresh_token ??= t.refresh_token;
  writeTokenFile(file, next);
  return next.access_token;
}
