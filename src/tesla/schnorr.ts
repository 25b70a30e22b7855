/**
 * Schnorr signatures over P-256 with SHA-256, as Tesla's vehicle-command signs what cars
 * accept offline (its internal/schnorr): the signature is (V, r) with V = kG the public nonce
 * (64 bytes, X || Y) and r = k - a·c mod n (32 bytes), c = SHA-256 over length-prefixed
 * G, V, the signer's public key A and the message; a verifier checks V = c·A + r·G.
 * The point arithmetic is @noble/curves' (audited); node:crypto has ECDSA and ECDH but no
 * access to point addition or scalar multiplication.
 */
import { createHash, createHmac } from 'node:crypto';
import { p256 } from '@noble/curves/nist.js';

const { Point } = p256;
const N = Point.Fn.ORDER;
const SCALAR_LENGTH = 32;
const SIGNATURE_LENGTH = 3 * SCALAR_LENGTH;

const toBig = (b: Uint8Array): bigint => (b.length === 0 ? 0n : BigInt(`0x${Buffer.from(b).toString('hex')}`));
const toBytes32 = (n: bigint): Buffer => Buffer.from(n.toString(16).padStart(64, '0'), 'hex');
const mod = (a: bigint): bigint => ((a % N) + N) % N;

function lengthValue(h: ReturnType<typeof createHash>, buf: Uint8Array): void {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(buf.length);
  h.update(len);
  h.update(buf);
}

/** The challenge c: SHA-256 of the generator, the public nonce, the signer's key and the message, each length-prefixed. */
function challenge(publicNonce: Uint8Array, signerPublic: Uint8Array, message: Uint8Array): Buffer {
  const h = createHash('sha256');
  lengthValue(h, Point.BASE.toBytes(false));
  lengthValue(h, publicNonce);
  lengthValue(h, signerPublic);
  lengthValue(h, message);
  return h.digest();
}

/**
 * RFC 6979 section 3.2 for P-256/SHA-256 (hlen = qlen, so T = V): the nonce depends only on
 * the key and the message, so signing needs no random number generator.
 */
export function deterministicNonce(scalar: Uint8Array, digest: Uint8Array): Buffer {
  const hmac = (key: Buffer, ...parts: Uint8Array[]) => {
    const m = createHmac('sha256', key);
    for (const p of parts) m.update(p);
    return m.digest();
  };
  const h1 = toBytes32(mod(toBig(digest))); // bits2octets
  let v = Buffer.alloc(32, 0x01);
  let k = Buffer.alloc(32, 0x00);
  k = hmac(k, v, Buffer.from([0x00]), scalar, h1);
  v = hmac(k, v);
  k = hmac(k, v, Buffer.from([0x01]), scalar, h1);
  v = hmac(k, v);
  for (;;) {
    v = hmac(k, v);
    const t = toBig(v);
    if (t >= 1n && t < N) return v;
    k = hmac(k, v, Buffer.from([0x00]));
    v = hmac(k, v);
  }
}

/** Signs `message` with the private scalar: 96 bytes, V.x || V.y || r. */
export function schnorrSign(scalar: Uint8Array, message: Uint8Array): Buffer {
  const a = toBig(scalar);
  if (a < 1n || a >= N) throw new RangeError('the private scalar is out of range');
  const digest = createHash('sha256').update(message).digest();
  const k = toBig(deterministicNonce(scalar, digest));
  const publicNonce = Point.BASE.multiply(k).toBytes(false);
  const signerPublic = Point.BASE.multiply(a).toBytes(false);
  const c = toBig(challenge(publicNonce, signerPublic, message));
  const r = mod(k - mod(a * c));
  return Buffer.concat([Buffer.from(publicNonce.subarray(1)), toBytes32(r)]);
}

export type VerifyResult = 'ok' | 'invalid-public-key' | 'invalid-signature';

/** Checks a signature against an uncompressed public key (65 bytes, 0x04 || X || Y). */
export function schnorrVerify(signerPublic: Uint8Array, message: Uint8Array, signature: Uint8Array): VerifyResult {
  if (signerPublic.length !== 65 || signerPublic[0] !== 0x04) return 'invalid-public-key';
  let A: InstanceType<typeof Point>;
  try {
    A = Point.fromBytes(signerPublic);
    A.assertValidity();
  } catch {
    return 'invalid-public-key';
  }
  if (signature.length !== SIGNATURE_LENGTH) return 'invalid-signature';
  const vx = toBig(signature.subarray(0, SCALAR_LENGTH));
  const vy = toBig(signature.subarray(SCALAR_LENGTH, 2 * SCALAR_LENGTH));
  const r = toBig(signature.subarray(2 * SCALAR_LENGTH));
  const publicNonce = Buffer.concat([Buffer.from([0x04]), signature.subarray(0, 2 * SCALAR_LENGTH)]);
  const c = toBig(challenge(publicNonce, signerPublic, message));
  // Public values only, so the variable-time multiply is fine; it also takes 0.
  const sum = A.multiplyUnsafe(mod(c)).add(Point.BASE.multiplyUnsafe(mod(r)));
  if (sum.is0()) return 'invalid-signature';
  const { x, y } = sum.toAffine();
  return x === vx && y === vy ? 'ok' : 'invalid-signature';
}
