import { readFileSync } from 'node:fs';
import { fleetApiBase } from '../../tesla/regions.js';
import { UsageError } from '../command.js';
import { unreadableReason } from '../../unreadable.js';

/** The application's client secret: from a file (mode 0600 advised) or TESLA_CLIENT_SECRET, never a flag (ps shows flags). */
export function clientSecret(file: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (file !== undefined) {
    try {
      const s = readFileSync(file, 'utf8').trim();
      if (s) return s;
    } catch (err) {
      throw new UsageError(`--client-secret-file ${file}: ${unreadableReason(err)}`, { cause: err });
    }
    throw new UsageError(`--client-secret-file ${file} is empty`);
  }
  const s = env.TESLA_CLIENT_SECRET?.trim();
  if (!s) throw new UsageError("the application's client secret is required: --client-secret-file FILE or TESLA_CLIENT_SECRET");
  return s;
}

/** The Fleet API base a token is for (its OAuth audience), from --region / --api-base / TESLA_API_BASE. */
export function audienceFrom(flags: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): string {
  const b = fleetApiBase({ apiBase: flags['api-base'] as string | undefined, region: flags.region as string | undefined, env: env.TESLA_API_BASE });
  if ('problem' in b) throw new UsageError(b.problem);
  return b.base;
}
