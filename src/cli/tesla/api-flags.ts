import { readFileSync } from 'node:fs';
import { FleetTelemetryError } from '../../errors.js';
import { FleetApiClient } from '../../tesla/fleet-api.js';
import { fleetApiBase } from '../../tesla/regions.js';
import { accessTokenFrom } from '../../tesla/oauth.js';
import { UsageError } from '../command.js';
import { unreadableReason } from '../../unreadable.js';

/** The options every Fleet API command takes. */
export const API_STRINGS = ['region', 'api-base', 'token-file', 'partner-token-file'];

export const API_USAGE = [
  "  --region na|eu|cn          Tesla's Fleet API host for the region of the car's account",
  '  --api-base URL             another Fleet API base (https); or TESLA_API_BASE',
  "  --token-file FILE          the owner's access token (the token, or JSON with access_token); or TESLA_ACCESS_TOKEN",
  '  --partner-token-file FILE  a partner token, to read fleet_telemetry_errors; or TESLA_PARTNER_TOKEN',
];

/**
 * A token from a file: the bare token, or JSON with access_token (what tesla login and
 * tesla register write), refreshed first when it has expired and the file can refresh it.
 */
async function readToken(file: string, what: string): Promise<string> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new UsageError(`${what} ${file}: ${unreadableReason(err)}`, { cause: err });
  }
  if (text.startsWith('{')) return accessTokenFrom(file);
  if (!text || /\s/.test(text)) throw new UsageError(`${what} ${file}: not a token (empty, or more than one word)`);
  return text;
}

export interface ApiClients {
  client: FleetApiClient;
  /** With a partner token only: fleet_telemetry_errors needs one. */
  partner?: FleetApiClient;
}

export async function apiClients(flags: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): Promise<ApiClients> {
  const b = fleetApiBase({ apiBase: flags['api-base'] as string | undefined, region: flags.region as string | undefined, env: env.TESLA_API_BASE });
  if ('problem' in b) throw new UsageError(b.problem);
  const tokenFile = flags['token-file'] as string | undefined;
  const token = tokenFile !== undefined ? await readToken(tokenFile, '--token-file') : env.TESLA_ACCESS_TOKEN?.trim();
  if (!token) throw new UsageError("the owner's access token is required: --token-file FILE or TESLA_ACCESS_TOKEN");
  const partnerFile = flags['partner-token-file'] as string | undefined;
  const partnerToken = partnerFile !== undefined ? await readToken(partnerFile, '--partner-token-file') : env.TESLA_PARTNER_TOKEN?.trim();
  const ua = 'fleet-telemetry';
  return { client: new FleetApiClient(b.base, token, ua), partner: partnerToken ? new FleetApiClient(b.base, partnerToken, ua) : undefined };
}

/** A VIN's entries of fleet_telemetry_errors as lines, or why they were not read. */
export async function errorLines(partner: FleetApiClient | undefined, vin: string): Promise<string[]> {
  if (!partner) return ['errors: not read (fleet_telemetry_errors needs a partner token: --partner-token-file or TESLA_PARTNER_TOKEN)'];
  let all: Record<string, unknown>[];
  try {
    all = await partner.telemetryErrors();
  } catch (err) {
    if (err instanceof FleetTelemetryError) return [`errors: not read: ${err.message}`];
    throw err;
  }
  const mine = all.filter((e) => e.vin === vin);
  if (mine.length === 0) return ['errors: none reported by the car'];
  return mine.map(
    (e) =>
      `error: ${[e.created_at, e.name, e.error]
        .filter((x) => x !== undefined && x !== '')
        .map(String)
        .join(' ')}`,
  );
}
