import { FleetTelemetryError } from '../errors.js';
import type { AppKey } from './app-key.js';
import type { ConfigBody } from './config-body.js';
import { signToken, telemetryAudience, verifyToken } from './token.js';

/** The body of POST /api/1/vehicles/fleet_telemetry_config_jws. */
export interface SignedBody {
  vins: string[];
  token: string;
}

/**
 * Signs a vehicle-config body as vehicle-command's proxy does: the config becomes the
 * claims, for the fleet's audience, or one VIN's (then only that VIN is sent). The token is
 * verified before it is returned, so a signer fault never reaches a car.
 */
export function signConfigBody(key: AppKey, body: ConfigBody, vin?: string): { signed: SignedBody; notes: string[] } {
  const notes: string[] = [];
  if ('iss' in body.config || 'aud' in body.config) notes.push('config.iss / config.aud are replaced by the key and the audience');
  if (vin !== undefined && body.vins.length > 0 && !body.vins.includes(vin)) {
    throw new FleetTelemetryError('BODY_INVALID', `--vin ${vin} is not among the body's vins (${body.vins.join(', ')})`);
  }
  const token = signToken(key, body.config, telemetryAudience(vin));
  verifyToken(token, key.publicRaw);
  return { signed: { vins: vin !== undefined ? [vin] : body.vins, token }, notes };
}
