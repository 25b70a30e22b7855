import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { FleetTelemetryError } from '../errors.js';
import { unreadableReason } from '../unreadable.js';

/** Where Tesla and vehicles fetch an application's public key, on the application's domain. */
export const PUBLIC_KEY_PATH = '/.well-known/appspecific/com.tesla.3p.public-key.pem';
export const PUBLIC_KEY_FILE = 'com.tesla.3p.public-key.pem';
export const PRIVATE_KEY_FILE = 'private-key.pem';

/** An application key: the P-256 key pair vehicles trust for commands and signed configs. */
export interface AppKey {
  privateKey: KeyObject;
  /** The private scalar, 32 bytes big-endian. */
  scalar: Uint8Array;
  /** The uncompressed public point, 65 bytes (0x04 || X || Y): Tesla's `iss`. */
  publicRaw: Uint8Array;
  /** SPKI PEM: the file Tesla fetches. */
  publicPem: string;
  /** SHA-256 of the SPKI DER, hex: what `openssl pkey -pubin -outform DER | sha256sum` prints. */
  fingerprint: string;
}

const b64url = (s: string) => Buffer.from(s, 'base64url');

/**
 * Parses an application key from PEM. Refused, each with its code and reason: no PEM, an
 * encrypted key (the server cannot ask for a pass phrase), a public key or certificate alone,
 * and any key not on P-256 (#212 in Tesla's repository: the car only knows P-256).
 */
function parseAppKey(pem: string, label: string): AppKey {
  if (!/-----BEGIN [A-Z0-9 ]+-----/.test(pem)) {
    throw new FleetTelemetryError('KEY_NOT_PEM', `${label}: refused: no PEM key in it`);
  }
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(pem) || /Proc-Type:\s*4,ENCRYPTED/.test(pem)) {
    throw new FleetTelemetryError(
      'KEY_ENCRYPTED',
      `${label}: refused: the private key is encrypted; give it unencrypted (e.g. openssl pkey -in ${label} -out plain.pem)`,
    );
  }
  if (!/-----BEGIN (EC |RSA |DSA |)PRIVATE KEY-----/.test(pem)) {
    const what = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(pem)?.[1].toLowerCase() ?? 'something else';
    throw new FleetTelemetryError('KEY_NOT_PRIVATE', `${label}: refused: not a private key (it holds a ${what})`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new FleetTelemetryError('KEY_NOT_PRIVATE', `${label}: refused: not a readable private key (${(err as Error).message})`, { cause: err });
  }
  const type = privateKey.asymmetricKeyType;
  const curve = privateKey.asymmetricKeyDetails?.namedCurve;
  if (type !== 'ec' || curve !== 'prime256v1') {
    const what =
      type === 'ec'
        ? `an EC key on ${curve ?? 'an unnamed curve'}`
        : type === 'rsa'
          ? `an RSA key of ${privateKey.asymmetricKeyDetails?.modulusLength ?? '?'} bits`
          : `a ${type ?? 'unknown'} key`;
    throw new FleetTelemetryError(
      'KEY_NOT_P256',
      `${label}: refused: not a P-256 key (it is ${what}); Tesla accepts only prime256v1, e.g. fleet-telemetry tesla keys --out DIR`,
    );
  }
  const jwk = privateKey.export({ format: 'jwk' });
  const publicKey = createPublicKey(privateKey);
  const spkiDer = publicKey.export({ format: 'der', type: 'spki' });
  return {
    privateKey,
    scalar: new Uint8Array(b64url(jwk.d!)),
    publicRaw: new Uint8Array(Buffer.concat([Buffer.from([4]), b64url(jwk.x!), b64url(jwk.y!)])),
    publicPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    fingerprint: createHash('sha256').update(spkiDer).digest('hex'),
  };
}

/** Reads and parses an application key file; an unreadable file is refused with its reason too. */
export function readAppKey(file: string): AppKey {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    throw new FleetTelemetryError('KEY_UNREADABLE', `${file}: cannot read the key: ${unreadableReason(err)}`, {
      cause: err,
    });
  }
  return parseAppKey(pem, file);
}

/** A new P-256 key pair: PKCS#8 private PEM and SPKI public PEM. */
export function generateAppKey(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    privatePem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
  };
}

/** The SHA-256 fingerprint of a public key PEM (SPKI), as in AppKey.fingerprint. */
export function publicKeyFingerprint(publicPem: string): string {
  const der = createPublicKey(publicPem).export({ format: 'der', type: 'spki' });
  return createHash('sha256').update(der).digest('hex');
}

/** The URL the public key page answers, for logs and check-config. */
export function publicKeyUrl(host: string, port: number): string {
  const h = host === '0.0.0.0' || host === '' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return `https://${h}${port === 443 ? '' : `:${port}`}${PUBLIC_KEY_PATH}`;
}
