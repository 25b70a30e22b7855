import { readFileSync } from 'node:fs';

/** Tesla's server key file: `{"secret": <z85>, "public": <z85>}`. */
export function readServerKey(path: string): { secret: string; public: string } {
  const k = JSON.parse(readFileSync(path, 'utf8')) as { secret?: unknown; public?: unknown };
  if (typeof k.secret !== 'string' || k.secret.length !== 40) throw new Error(`${path}: "secret" must be a 40-character z85 CURVE key`);
  return { secret: k.secret, public: typeof k.public === 'string' ? k.public : '' };
}

/** Tesla's allowed keys file: a JSON list of z85 public keys. */
export function readAllowedKeys(path: string): Set<string> {
  const list = JSON.parse(readFileSync(path, 'utf8')) as unknown;
  if (!Array.isArray(list) || !list.every((k) => typeof k === 'string' && k.length === 40)) {
    throw new Error(`${path}: must be a JSON list of 40-character z85 CURVE public keys`);
  }
  return new Set(list as string[]);
}

const Z85 = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';

/** ZeroMQ's Z85 text of a key (32 bytes → 40 characters). */
export function z85(bytes: Uint8Array): string {
  if (bytes.length % 4 !== 0) throw new Error('z85 needs a multiple of 4 bytes');
  let out = '';
  for (let i = 0; i < bytes.length; i += 4) {
    let v = ((bytes[i] << 24) | (bytes[i + 1] << 16) | (bytes[i + 2] << 8) | bytes[i + 3]) >>> 0;
    let chunk = '';
    for (let j = 0; j < 5; j++) {
      chunk = Z85[v % 85] + chunk;
      v = Math.floor(v / 85);
    }
    out += chunk;
  }
  return out;
}
