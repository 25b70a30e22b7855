import { configPath } from '../../config/load.js';
import type { Config } from '../../config/types.js';
import { fleetAccess, type FleetAccess } from './policy.js';
import { readFleetToken, type TokenResult } from './token-file.js';

export type FleetAccessResult = { ok: true; access: FleetAccess } | Extract<TokenResult, { ok: false }>;

/** The fleet view's access rule as configured; the token file is read here, once, at start. */
export function fleetAccessFromConfig(config: Config): FleetAccessResult {
  const fv = config.monitoring.fleet_view;
  if (fv.token_file === undefined) return { ok: true, access: fleetAccess(config.monitoring.host, { public: fv.public }) };
  const t = readFleetToken(configPath(config, fv.token_file));
  if (!t.ok) return t;
  return { ok: true, access: fleetAccess(config.monitoring.host, { token: t.token, public: fv.public }) };
}
