import { configPath } from '../../config/load.js';
import { PUBLIC_KEY_PATH, readAppKey } from '../../tesla/app-key.js';
import { readConfigBody } from '../../tesla/config-body.js';
import { endpointProblem, fetchPublicKeyFingerprint } from '../../tesla/prechecks.js';
import { signConfigBody } from '../../tesla/sign-body.js';
import { skipReasonWords } from '../../tesla/skip-reasons.js';
import { clock, parseDuration, waitForSync } from '../../tesla/sync-wait.js';
import { telemetryAudience } from '../../tesla/token.js';
import { VIN_PATTERN } from '../../tls/dev-certs.js';
import { parseArgs, UsageError, type Command } from '../command.js';
import { loadConfigForCommand } from '../config-file.js';
import { API_STRINGS, API_USAGE, apiClients, errorLines } from './api-flags.js';

const DEFAULT_WAIT = '10m';
const DEFAULT_POLL = '15s';

const push: Command = {
  summary: 'sign a vehicle-config body, send it to the Fleet API, and wait until every car has it',
  usage: [
    'usage: fleet-telemetry tesla push --body FILE (--private-key KEY | --config FILE) (--region na|eu|cn | --api-base URL)',
    '         [--token-file FILE] [--partner-token-file FILE] [--vin VIN] [--domain NAME] [--wait 10m] [--poll 15s]',
    '         [--public-key-url URL] [--skip-endpoint-check]',
    '',
    '  --body FILE             what vehicle-config printed',
    "  --private-key KEY       the application key; or --config FILE: the server config's tesla.private_key",
    '  --config FILE           the server config: its key, and its public key page (tesla.public_key_port) is checked',
    '  --vin VIN               a token only that car accepts (default: every car that trusts the key)',
    "  --domain NAME           the application's domain, for the pairing link (default: the config's hostname)",
    `  --wait DURATION         how long to wait for every car to report synced (default ${DEFAULT_WAIT}; 0: do not wait)`,
    `  --poll DURATION         between two reads of a car's config (default ${DEFAULT_POLL})`,
    `  --public-key-url URL    check the key served there (default with --config: the page on this machine)`,
    "  --skip-endpoint-check   do not check that hostname:port serves a chain the config's ca verifies",
    ...API_USAGE,
    '',
    'Before sending: the hostname and port of the config serve a chain its ca verifies, and the public key',
    'page serves the key that signs. Prints the updated count, every skipped car with the reason and what to',
    "do, then waits for synced: true, and shows each car's fleet_telemetry_errors. Exit 0 only when every car",
    'synced.',
  ].join('\n'),

  async run(argv) {
    const { flags, positionals } = parseArgs(argv, {
      strings: ['body', 'private-key', 'config', 'vin', 'domain', 'wait', 'poll', 'public-key-url', ...API_STRINGS],
      booleans: ['skip-endpoint-check'],
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
    const bodyFile = flags.body as string | undefined;
    if (!bodyFile) throw new UsageError('--body FILE is required');
    const vin = flags.vin as string | undefined;
    if (vin !== undefined && !VIN_PATTERN.test(vin)) throw new UsageError(`invalid VIN ${JSON.stringify(vin)}`);
    const waitMs = parseDuration((flags.wait as string | undefined) ?? DEFAULT_WAIT);
    const pollMs = parseDuration((flags.poll as string | undefined) ?? DEFAULT_POLL);
    if (waitMs === undefined) throw new UsageError(`--wait ${String(flags.wait)}: a duration such as 10m, 90s or 0`);
    if (pollMs === undefined || pollMs <= 0) throw new UsageError(`--poll ${String(flags.poll)}: a positive duration such as 15s`);

    // The key: given, or the server config's; with the config also its page.
    let keyFile = flags['private-key'] as string | undefined;
    let pageUrl = flags['public-key-url'] as string | undefined;
    let pageServername: string | undefined;
    const body = readConfigBody(bodyFile);
    if (flags.config !== undefined) {
      const config = loadConfigForCommand(flags.config as string);
      if (config === 2) return 2;
      if (keyFile === undefined) {
        if (!config.tesla.private_key) throw new UsageError(`${String(flags.config)} sets no tesla.private_key: give --private-key KEY`);
        keyFile = configPath(config, config.tesla.private_key);
      }
      if (pageUrl === undefined && config.tesla.public_key_port !== undefined) {
        const host = ['', '0.0.0.0', '::'].includes(config.host) ? '127.0.0.1' : config.host;
        pageUrl = `https://${host.includes(':') ? `[${host}]` : host}:${config.tesla.public_key_port}${PUBLIC_KEY_PATH}`;
        pageServername = body.config.hostname as string;
      }
    }
    if (keyFile === undefined) throw new UsageError('--private-key KEY or --config FILE (with tesla.private_key) is required');
    const { client, partner } = await apiClients(flags);
    const key = readAppKey(keyFile);
    const out = (s: string) => process.stdout.write(`${s}\n`);
    const fail = (s: string) => {
      process.stderr.write(`fleet-telemetry tesla push: refused: ${s}\n`);
      return 1;
    };

    const c = body.config as { hostname: string; port?: number; ca: string };
    if (flags['skip-endpoint-check'] !== true) {
      const problem = await endpointProblem(c);
      if (problem) return fail(`${problem} (a car given this config would not connect; --skip-endpoint-check to send it anyway)`);
      out(`endpoint: ${c.hostname}:${c.port ?? 443} serves a chain the config's ca verifies`);
    }
    if (pageUrl !== undefined) {
      const page = await fetchPublicKeyFingerprint(pageUrl, { ca: c.ca, servername: pageServername });
      if ('problem' in page) return fail(`the public key page: ${page.problem}`);
      if (page.fingerprint !== key.fingerprint) {
        return fail(
          `${pageUrl} serves the key ${page.fingerprint}, but ${keyFile} (${key.fingerprint}) signs: a car trusts the key it was paired with from the page, and refuses a config signed by another ("unknown issuer")`,
        );
      }
      out(`public key page: ${pageUrl} serves the signing key`);
    }

    const { signed, notes } = signConfigBody(key, body, vin);
    for (const n of notes) process.stderr.write(`note: ${n}\n`);
    if (signed.vins.length === 0) return fail('"vins" is empty: give the cars with vehicle-config --vin, or --vin here');
    out(`signed: ${signed.vins.length} vehicle${signed.vins.length === 1 ? '' : 's'}, key ${key.fingerprint}, audience ${telemetryAudience(vin)}`);

    const result = await client.pushSignedConfig(signed);
    out(`pushed: ${result.updated} vehicle${result.updated === 1 ? '' : 's'} updated`);
    const domain = (flags.domain as string | undefined) ?? c.hostname;
    const skippedVins = new Set<string>();
    for (const [reason, vins] of Object.entries(result.skipped)) {
      for (const v of vins) {
        skippedVins.add(v);
        out(`skipped ${v}: ${skipReasonWords(reason, domain)}`);
      }
    }
    const waiting = signed.vins.filter((v) => !skippedVins.has(v));
    let synced = 0;
    if (waiting.length > 0 && waitMs > 0) {
      const states = await waitForSync(client, waiting, {
        waitMs,
        pollMs,
        onRound: (s, elapsed) => {
          const n = [...s.values()].filter((x) => x.synced).length;
          const pending = [...s.entries()].filter(([, x]) => !x.synced).map(([v, x]) => `${v}${x.error ? ` (${x.error})` : ''}`);
          process.stderr.write(
            `waiting for sync: ${n} of ${s.size} synced${pending.length ? `, not yet: ${pending.join(', ')}` : ''} (${clock(elapsed)} of ${clock(waitMs)})\n`,
          );
        },
      });
      for (const [v, s] of states) {
        out(
          `${v}: ${s.synced ? 'synced' : `not synced after ${clock(waitMs)} (the car takes its config when online: wake it with the app, then tesla status --vin ${v})`}`,
        );
        if (s.synced) synced++;
        for (const l of await errorLines(partner, v)) out(`${v} ${l}`);
      }
    } else if (waiting.length > 0) {
      out(`not waiting (--wait 0): tesla status --vin VIN tells when a car has it`);
    }
    const all = signed.vins.length;
    out(synced === all ? `all ${all} vehicle${all === 1 ? '' : 's'} synced` : `${synced} of ${all} vehicle${all === 1 ? '' : 's'} synced`);
    return synced === all ? 0 : 1;
  },
};

export default push;
