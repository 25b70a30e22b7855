import { createPrivateKey, createPublicKey } from 'node:crypto';

/** PKCS#8 DER of an X25519 private key, up to its 32 raw bytes (RFC 8410). */
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

/**
 * The CURVE public key of a 32-byte CURVE secret key. CURVE is Curve25519, which OpenSSL calls
 * X25519, so node:crypto derives the same public key libzmq would.
 */
export function curvePublicKey(secret: Uint8Array): Uint8Array {
  if (secret.length !== 32) throw new Error('a CURVE secret key is 32 bytes');
  const priv = createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, secret]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(priv).export({ format: 'der', type: 'spki' });
  return new Uint8Array(spki.subarray(spki.length - 32));
}
