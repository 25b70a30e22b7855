import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { FailureLimiter } from './failures.js';
import { LOGIN_CSP, loginPage } from './login-page.js';
import { FLEET_COOKIE, isFleetPath, presentedToken, tokenMatches, type FleetAccess } from './policy.js';

/** Failed tokens an address may send per minute before every attempt is refused for the rest of it. */
const FAILURES_PER_MINUTE = 10;
const LOGIN_BODY_MAX = 4096;

export interface FleetGuard {
  /** Answers a request the fleet view's access rule stops (or the login form's); false lets it through. */
  handle(req: IncomingMessage, res: ServerResponse, path: string, head: boolean): Promise<boolean>;
}

function send(res: ServerResponse, head: boolean, status: number, type: string, body: string, headers: Record<string, string> = {}): true {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(head ? undefined : body);
  return true;
}

const page = (res: ServerResponse, head: boolean, status: number, message?: string) =>
  send(res, head, status, 'text/html; charset=utf-8', loginPage(message), {
    'content-security-policy': LOGIN_CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  });

const isPage = (path: string) => path === '/' || path === '/index.html';

function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      body += c;
      if (body.length > LOGIN_BODY_MAX) {
        resolve(undefined);
        req.destroy();
      }
    });
    req.on('end', () => resolve(body));
    req.on('error', () => resolve(undefined));
  });
}

export function fleetGuard(access: FleetAccess, logger: Logger, now: () => number = Date.now): FleetGuard {
  const limiter = new FailureLimiter({ limit: FAILURES_PER_MINUTE, windowMs: 60_000, maxKeys: 4096 });
  const refusedTooOften = (res: ServerResponse, head: boolean, ms: number) =>
    send(res, head, 429, 'text/plain', 'too many wrong tokens from this address; try again later\n', { 'retry-after': String(Math.ceil(ms / 1000)) });
  /** Logged without the token, ever: the address and the path are enough to act on. */
  const failed = (req: IncomingMessage, path: string) => {
    const remote = req.socket.remoteAddress ?? '';
    limiter.failed(remote, now());
    logger.warn({ event: 'fleet_auth_failed', remote, path }, 'fleet view: wrong token');
  };

  return {
    async handle(req, res, path, head) {
      const remote = req.socket.remoteAddress ?? '';
      if (path === '/login') {
        if (access.kind !== 'token') return send(res, head, 404, 'text/plain', 'no login here: monitoring.fleet_view.token_file is not set\n');
        if (req.method === 'GET' || head) return page(res, head, 200);
        if (req.method !== 'POST') return send(res, false, 405, 'text/plain', '', { allow: 'GET, HEAD, POST' });
        const body = await readBody(req);
        const wait = limiter.blockedFor(remote, now());
        if (wait > 0) return refusedTooOften(res, false, wait);
        const given = body === undefined ? undefined : (new URLSearchParams(body).get('token') ?? undefined);
        if (!tokenMatches(access.token, given)) {
          failed(req, path);
          return page(res, false, 401, 'That token is not the one configured.');
        }
        return send(res, false, 303, 'text/plain', 'signed in\n', {
          location: '/',
          'set-cookie': `${FLEET_COOKIE}=${encodeURIComponent(access.token)}; HttpOnly; SameSite=Strict; Path=/`,
        });
      }
      if (!isFleetPath(path) || access.kind === 'open') return false;
      if (access.kind === 'closed') {
        return send(
          res,
          head,
          403,
          'text/plain',
          'the fleet view is not served on this address without a credential: set monitoring.fleet_view.token_file (or monitoring.fleet_view.public: true, or bind monitoring.host to loopback)\n',
        );
      }
      const wait = limiter.blockedFor(remote, now());
      if (wait > 0) return refusedTooOften(res, head, wait);
      const given = presentedToken(req.headers);
      if (tokenMatches(access.token, given)) return false;
      if (given !== undefined) failed(req, path);
      if (isPage(path)) return page(res, head, 401);
      return send(
        res,
        head,
        401,
        'application/json',
        JSON.stringify({ error: 'a token is required: Authorization: Bearer <token of monitoring.fleet_view.token_file>' }) + '\n',
        {
          'www-authenticate': 'Bearer realm="fleet-telemetry"',
        },
      );
    },
  };
}
