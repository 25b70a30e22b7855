import { readAppKey } from '../../tesla/app-key.js';
import { FleetApiClient } from '../../tesla/fleet-api.js';
import { authUrls, storedFrom, tokenRequest, writeTokenFile } from '../../tesla/oauth.js';
import { HOSTNAME_PATTERN } from '../../tls/dev-certs.js';
import { parseArgs, UsageError, type Command } from '../command.js';
import { audienceFrom, clientSecret } from './secrets.js';

const register: Command = {
  summary: "register the application's domain with the Fleet API (a partner token, then POST /api/1/partner_accounts)",
  usage: [
    'usage: fleet-telemetry tesla register --domain NAME --client-id ID (--region na|eu|cn | --api-base URL)',
    '         [--client-secret-file FILE] [--private-key KEY] [--partner-token-out FILE] [--auth-base URL]',
    '',
    "  --domain NAME            the application's domain; its public key page must already answer",
    '  --private-key KEY        also check that Tesla now holds the public key of KEY for the domain',
    '  --partner-token-out FILE keep the partner token (mode 0600) for push --partner-token-file',
    '',
    'Once per region where the cars are. No token or secret is ever printed.',
  ].join('\n'),

  async run(argv) {
    const { flags, positionals } = parseArgs(argv, {
      strings: ['domain', 'client-id', 'client-secret-file', 'private-key', 'partner-token-out', 'auth-base', 'region', 'api-base', 'scope'],
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
    const domain = flags.domain as string | undefined;
    if (!domain || !HOSTNAME_PATTERN.test(domain)) throw new UsageError('--domain NAME is required (a host name, e.g. app.example.com)');
    const clientId = flags['client-id'] as string | undefined;
    if (!clientId) throw new UsageError('--client-id ID is required');
    const secret = clientSecret(flags['client-secret-file'] as string | undefined);
    const audience = audienceFrom(flags);
    const key = flags['private-key'] !== undefined ? readAppKey(flags['private-key'] as string) : undefined;
    const urls = authUrls((flags['auth-base'] as string | undefined) ?? process.env.TESLA_AUTH_BASE);
    const answer = await tokenRequest(urls.token, {
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: secret,
      scope: (flags.scope as string | undefined) ?? 'openid vehicle_device_data',
      audience,
    });
    process.stdout.write('partner token: obtained\n');
    const out = flags['partner-token-out'] as string | undefined;
    if (out) {
      writeTokenFile(out, storedFrom(answer, {}));
      process.stdout.write(`partner token: kept in ${out} (mode 0600)\n`);
    }
    const api = new FleetApiClient(audience, answer.access_token);
    await api.call('POST', '/api/1/partner_accounts', { domain });
    process.stdout.write(`registered: ${domain} at ${audience}\n`);
    if (key) {
      const b = (await api.call('GET', `/api/1/partner_accounts/public_key?domain=${encodeURIComponent(domain)}`)) as { response?: { public_key?: unknown } };
      const held = typeof b?.response?.public_key === 'string' ? b.response.public_key.toLowerCase() : '';
      const mine = Buffer.from(key.publicRaw).toString('hex');
      if (held !== mine) {
        process.stderr.write(
          `fleet-telemetry tesla register: Tesla holds ${held ? `another key (${held.slice(0, 16)}…)` : 'no key'} for ${domain}, not the key of ${String(flags['private-key'])}: check the public key page, then register again\n`,
        );
        return 1;
      }
      process.stdout.write(`public key: Tesla holds the key of ${String(flags['private-key'])} (fingerprint ${key.fingerprint})\n`);
    }
    return 0;
  },
};

export default register;
