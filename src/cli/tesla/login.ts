import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FleetTelemetryError } from '../../errors.js';
import { authorizeUrl, authUrls, DEFAULT_SCOPE, storedFrom, tokenRequest, writeTokenFile } from '../../tesla/oauth.js';
import { parseDuration } from '../../tesla/sync-wait.js';
import { parseArgs, UsageError, type Command } from '../command.js';
import { audienceFrom, clientSecret } from './secrets.js';

const DEFAULT_PORT = 8765;

const login: Command = {
  summary: "log in as the car's owner (Tesla's OAuth authorization code flow); the token is saved mode 0600 and refreshed when it expires",
  usage: [
    'usage: fleet-telemetry tesla login --client-id ID (--region na|eu|cn | --api-base URL) [--client-secret-file FILE]',
    '         [--out tesla-token.json] [--port 8765] [--redirect-uri URI] [--scope "openid offline_access vehicle_device_data"]',
    '         [--auth-base URL] [--timeout 10m]',
    '',
    "  --client-id ID            your application's client id (developer.tesla.com)",
    '  --client-secret-file FILE its client secret; or TESLA_CLIENT_SECRET',
    '  --out FILE                where the token goes (mode 0600; default tesla-token.json); give it to push as --token-file',
    `  --port N                  the local port Tesla redirects the browser to (default ${DEFAULT_PORT})`,
    '  --redirect-uri URI        the redirect URI registered for the application (default http://localhost:PORT/callback)',
    '  --auth-base URL           another OAuth host for both the login page and the token endpoint; or TESLA_AUTH_BASE',
    '',
    'Prints the page to open; after you allow access there, the browser comes back to this command.',
    'No token or secret is ever printed.',
  ].join('\n'),

  async run(argv) {
    const { flags, positionals } = parseArgs(argv, {
      strings: ['client-id', 'client-secret-file', 'out', 'port', 'redirect-uri', 'scope', 'auth-base', 'region', 'api-base', 'timeout'],
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
    const clientId = flags['client-id'] as string | undefined;
    if (!clientId) throw new UsageError('--client-id ID is required');
    const secret = clientSecret(flags['client-secret-file'] as string | undefined);
    const audience = audienceFrom(flags);
    const urls = authUrls((flags['auth-base'] as string | undefined) ?? process.env.TESLA_AUTH_BASE);
    const out = (flags.out as string | undefined) ?? 'tesla-token.json';
    const port = flags.port !== undefined ? Number(flags.port) : DEFAULT_PORT;
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port ${String(flags.port)}: not a port`);
    const timeoutMs = parseDuration((flags.timeout as string | undefined) ?? '10m');
    if (!timeoutMs) throw new UsageError(`--timeout ${String(flags.timeout)}: a duration such as 10m`);
    const scope = (flags.scope as string | undefined) ?? DEFAULT_SCOPE;
    const state = randomBytes(16).toString('hex');

    let settle!: (r: { code: string } | { error: FleetTelemetryError }) => void;
    const result = new Promise<{ code: string } | { error: FleetTelemetryError }>((r) => (settle = r));
    const server = createServer((req, res) => {
      const u = new URL(req.url ?? '/', 'http://localhost');
      if (u.pathname !== new URL(redirectUri).pathname) return void res.writeHead(404).end();
      const page = (status: number, text: string) => res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(`${text}\n`);
      if (u.searchParams.get('state') !== state) {
        page(400, 'This redirect is not from the login this command started.');
        return settle({
          error: new FleetTelemetryError('AUTH_STATE', 'a redirect came back with another state: not from this login (start tesla login again)'),
        });
      }
      const err = u.searchParams.get('error');
      if (err) {
        page(400, `Tesla said: ${err}`);
        return settle({
          error: new FleetTelemetryError(
            'AUTH_FAILED',
            `Tesla refused the login: ${err}${u.searchParams.get('error_description') ? `: ${u.searchParams.get('error_description')}` : ''}`,
          ),
        });
      }
      const code = u.searchParams.get('code');
      if (!code) {
        page(400, 'No code in this redirect.');
        return settle({ error: new FleetTelemetryError('AUTH_FAILED', 'the redirect carried no code') });
      }
      page(200, 'Logged in. You can close this tab and go back to the terminal.');
      settle({ code });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    }).catch((err: NodeJS.ErrnoException) => {
      throw new UsageError(`cannot listen on 127.0.0.1:${port} for the redirect: ${err.code ?? err.message} (choose another --port)`, { cause: err });
    });
    const redirectUri = (flags['redirect-uri'] as string | undefined) ?? `http://localhost:${(server.address() as AddressInfo).port}/callback`;
    const timer = setTimeout(
      () => settle({ error: new FleetTelemetryError('AUTH_FAILED', `no redirect within ${Math.round(timeoutMs / 1000)} s`) }),
      timeoutMs,
    );
    try {
      process.stdout.write(
        `open this page in a browser, log in as the car's owner and allow access:\n\n  ${authorizeUrl({ authorize: urls.authorize, clientId, redirectUri, scope, state })}\n\n`,
      );
      process.stdout.write(`waiting for the redirect to ${redirectUri} …\n`);
      const r = await result;
      if ('error' in r) throw r.error;
      const answer = await tokenRequest(urls.token, {
        grant_type: 'authorization_code',
        client_id: clientId,
        client_secret: secret,
        code: r.code,
        audience,
        redirect_uri: redirectUri,
      });
      const stored = storedFrom(answer, { client_id: clientId, token_url: urls.token });
      writeTokenFile(out, stored);
      process.stdout.write(
        `logged in: the token is in ${out} (mode 0600)${stored.expires_at ? `, valid until ${new Date(stored.expires_at).toISOString()}` : ''}${stored.refresh_token ? '; push and status refresh it when it expires' : ''}\n`,
      );
      return 0;
    } finally {
      clearTimeout(timer);
      server.close();
      server.closeAllConnections();
    }
  },
};

export default login;
