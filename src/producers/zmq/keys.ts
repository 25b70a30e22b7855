import { readFileSync } from 'node:fs';
import { FleetTelemetryError } from '../../errors.js';
import { unreadableReason } from '../../unreadable.js';
import { curvePublicKey } from './curve.js';
import { z85Decode, z85Encode } from './z85.js';

/** The PUB socket's CURVE key pair, both as Z85 text. */
export interface ServerKey {
  secret: string;
  public: string;
}

const SERVER_KEY_SHAPE = '{"secret": <40-character z85>, "public": <40-character z85>} (zeromq\'s curveKeyPair() makes a pair)';
const ALLOWED_SHAPE = 'a JSON list of 40-character z85 CURVE public keys';

function refuse(message: string, cause?: unknown): never {
  throw new FleetTelemetryError('zmq_key_invalid', message, cause === undefined ? undefined : { cause });
}

function readJson(key: string, path: string, shape: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    refuse(`zmq.${key} ${path}: cannot read: ${unreadableReason(err)}`, err);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    refuse(`zmq.${key} ${path}: not JSON (${(err as Error).message}); allowed: ${shape}`, err);
  }
}

/** The 32 bytes of a Z85 CURVE key, or why the text is not one. */
export function curveKeyBytes(text: unknown): { bytes: Uint8Array } | { reason: string } {
  if (typeof text !== 'string') return { reason: `${JSON.stringify(text) ?? 'nothing'} is not a string` };
  if (text.length !== 40) return { reason: `${text.length} characters; a z85 CURVE key is 40` };
  return z85Decode(text);
}

/**
 * Tesla's server key file: `{"secret": <z85>, "public": <z85>}`. The secret is what the socket
 * uses; "public" is what subscribers are given, so when present it must be the secret's pair.
 */
export function readServerKey(path: string): ServerKey {
  const key = 'server_key_json_path';
  const k = readJson(key, path, SERVER_KEY_SHAPE);
  if (!k || typeof k !== 'object' || Array.isArray(k)) refuse(`zmq.${key} ${path}: holds ${JSON.stringify(k)?.slice(0, 40)}; allowed: ${SERVER_KEY_SHAPE}`);
  const { secret, public: pub } = k as { secret?: unknown; public?: unknown };
  const s = curveKeyBytes(secret);
  if ('reason' in s) refuse(`zmq.${key} ${path}: "secret": ${s.reason}; allowed: ${SERVER_KEY_SHAPE}`);
  const derived = z85Encode(curvePublicKey(s.bytes));
  if (pub === undefined) return { secret: secret as string, public: derived };
  const p = curveKeyBytes(pub);
  if ('reason' in p) refuse(`zmq.${key} ${path}: "public": ${p.reason}; allowed: ${SERVER_KEY_SHAPE}`);
  if (pub !== derived) refuse(`zmq.${key} ${path}: "public" is not the public key of "secret" (that is ${derived}): the two do not pair`);
  return { secret: secret as string, public: derived };
}

/** Tesla's allowed keys file: a JSON list of z85 public keys. */
export function readAllowedKeys(path: string): Set<string> {
  const key = 'allowed_public_keys_json_path';
  const list = readJson(key, path, ALLOWED_SHAPE);
  if (!Array.isArray(list)) refuse(`zmq.${key} ${path}: holds ${JSON.stringify(list)?.slice(0, 40)}; allowed: ${ALLOWED_SHAPE}`);
  for (const [i, k] of list.entries()) {
    const b = curveKeyBytes(k);
    if ('reason' in b) refuse(`zmq.${key} ${path}: entry ${i}: ${b.reason}; allowed: ${ALLOWED_SHAPE}`);
  }
  return new Set(list as string[]);
}
