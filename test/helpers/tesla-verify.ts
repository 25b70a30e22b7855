/**
 * A verifier of Tesla.SS256 tokens written apart from src/tesla (it shares no code with the
 * signer): the tests and the Fleet API stand-in judge every token with it. Checked against
 * Tesla's own token in tesla-sign.test.ts.
 */
import { createHash } from 'node:crypto';
import { p256 } from '@noble/curves/nist.js';

const P = p256.Point;
const n = P.Fn.ORDER;
const big = (b: Uint8Array) => BigInt(`0x${Buffer.from(b).toString('hex') || '0'}`);

function lv(parts: Uint8Array[]): Buffer {
  return Buffer.concat(
    parts.flatMap((p) => {
      const l = Buffer.alloc(4);
      l.writeUInt32BE(p.length);
      return [l, Buffer.from(p)];
    }),
  );
}

/** True when `sig` (V.x || V.y || r) is a Schnorr/P-256 signature of `msg` by `pub` (65 bytes). */
export function independentSchnorrVerify(pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  if (sig.length !== 96 || pub.length !== 65) return false;
  let A;
  let V;
  try {
    A = P.fromBytes(pub);
    V = P.fromBytes(Buffer.concat([Buffer.from([4]), sig.subarray(0, 64)]));
  } catch {
    return false;
  }
  const c =
    big(
      createHash('sha256')
        .update(lv([P.BASE.toBytes(false), V.toBytes(false), pub, msg]))
        .digest(),
    ) % n;
  const r = big(sig.subarray(64)) % n;
  return A.multiplyUnsafe(c).add(P.BASE.multiplyUnsafe(r)).equals(V);
}

export interface DecodedToken {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  headerText: string;
  claimsText: string;
  valid: boolean;
}

/** Splits a token and checks it with `pub`, or with the key its iss names. */
export function independentVerifyToken(token: string, pub?: Uint8Array): DecodedToken {
  const [h, c, s] = token.split('.');
  const headerText = Buffer.from(h, 'base64url').toString('utf8');
  const claimsText = Buffer.from(c, 'base64url').toString('utf8');
  const header = JSON.parse(headerText) as Record<string, unknown>;
  const claims = JSON.parse(claimsText) as Record<string, unknown>;
  const key = pub ?? new Uint8Array(Buffer.from(String(claims.iss), 'base64'));
  const sig = Buffer.from(s, 'base64url');
  const valid = header.alg === 'Tesla.SS256' && sig.toString('base64url') === s && independentSchnorrVerify(key, Buffer.from(`${h}.${c}`), sig);
  return { header, claims, headerText, claimsText, valid };
}
