import { FleetTelemetryError } from '../errors.js';
import type { AppKey } from './app-key.js';
import { goJson } from './go-json.js';
import { schnorrSign, schnorrVerify } from './schnorr.js';

/** vehicle-command's JWT algorithm name for Schnorr/P-256/SHA-256. */
const TESLA_ALG = 'Tesla.SS256';
/** The header golang-jwt writes for it (keys sorted). */
const HEADER = goJson({ alg: TESLA_ALG, typ: 'JWT' });

/** The audience of a config for every car that trusts the key, or for one VIN. */
export function telemetryAudience(vin?: string): string {
  return vin ? `com.tesla.vehicle.${vin}.TelemetryClient` : 'com.tesla.fleet.TelemetryClient';
}

const b64url = (b: Uint8Array | string) => Buffer.from(b).toString('base64url');

/**
 * A Tesla.SS256 token over `claims`, as vehicle-command's SignMessage makes it: `iss` is the
 * standard (padded) base64 of the 65-byte public key, `aud` the audience; both overwrite
 * what the claims held.
 */
export function signToken(key: AppKey, claims: Record<string, unknown>, audience: string): string {
  const body = { ...claims, iss: Buffer.from(key.publicRaw).toString('base64'), aud: audience };
  const signingString = `${b64url(HEADER)}.${b64url(goJson(body))}`;
  const signature = schnorrSign(key.scalar, Buffer.from(signingString));
  return `${signingString}.${b64url(signature)}`;
}

const SEGMENT = /^[A-Za-z0-9_-]*$/;

function decodeJsonSegment(seg: string, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(seg, 'base64url').toString('utf8'));
  } catch (err) {
    throw new FleetTelemetryError('TOKEN_MALFORMED', `the token's ${what} is not base64url JSON`, { cause: err });
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new FleetTelemetryError('TOKEN_MALFORMED', `the token's ${what} is not a JSON object`);
  return v as Record<string, unknown>;
}

/**
 * Verifies a Tesla.SS256 token against a public key (65 bytes uncompressed); without one,
 * against the key its `iss` names, which proves only that the token is intact. Returns the
 * claims; a malformed token or a signature that does not verify is refused.
 */
export function verifyToken(token: string, publicRaw?: Uint8Array): Record<string, unknown> {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => SEGMENT.test(p) && p.length % 4 !== 1)) {
    throw new FleetTelemetryError('TOKEN_MALFORMED', 'the token is not three base64url segments');
  }
  const header = decodeJsonSegment(parts[0], 'header');
  if (header.alg !== TESLA_ALG) throw new FleetTelemetryError('TOKEN_MALFORMED', `the token's alg is ${JSON.stringify(header.alg)}, not ${TESLA_ALG}`);
  const claims = decodeJsonSegment(parts[1], 'claims');
  let key = publicRaw;
  if (!key) {
    if (typeof claims.iss !== 'string') throw new FleetTelemetryError('TOKEN_MALFORMED', 'the token has no iss');
    key = new Uint8Array(Buffer.from(claims.iss, 'base64'));
  }
  const signature = Buffer.from(parts[2], 'base64url');
  // A segment whose spare bits are not zero decodes like another one: refuse it, as Go's strict decoder does.
  if (signature.toString('base64url') !== parts[2]) throw new FleetTelemetryError('TOKEN_BAD_SIGNATURE', 'the token signature is not canonical base64url');
  const result = schnorrVerify(key, Buffer.from(`${parts[0]}.${parts[1]}`), signature);
  if (result === 'invalid-public-key') throw new FleetTelemetryError('TOKEN_BAD_SIGNATURE', 'the public key to verify with is not a P-256 point');
  if (result !== 'ok') throw new FleetTelemetryError('TOKEN_BAD_SIGNATURE', 'the token signature does not verify with that key');
  return claims;
}
