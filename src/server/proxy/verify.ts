import { type X509Certificate } from 'node:crypto';

export type VerifyResult = { ok: true; chain: X509Certificate[] } | { ok: false; reason: string };

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const ANY_EKU = '2.5.29.37.0';
const MAX_DEPTH = 8;

function issuedBy(child: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return child.checkIssued(issuer) && child.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

function inTime(c: X509Certificate, now: Date): string | undefined {
  if (now < new Date(c.validFrom)) return `not valid before ${c.validFrom}`;
  if (now > new Date(c.validTo)) return `expired on ${c.validTo}`;
  return undefined;
}

const cn = (c: X509Certificate) => JSON.stringify(/^CN=(.*)$/m.exec(c.subject)?.[1] ?? c.subject.split('\n').join(', '));

/**
 * What OpenSSL checks of a client certificate in a direct mTLS handshake, for one a proxy passed:
 * a chain of CA certificates from the pool up to a self-signed one, every signature, every
 * certificate's dates, and clientAuth when the leaf names its purposes. A proxy that passes any
 * certificate therefore lets nothing in that direct mTLS would refuse.
 */
export function verifyClientCert(leaf: X509Certificate, pool: readonly X509Certificate[], now: Date = new Date()): VerifyResult {
  if (leaf.ca) return { ok: false, reason: `certificate ${cn(leaf)} is a CA certificate, not a client certificate` };
  const purposes = leaf.keyUsage;
  if (purposes && purposes.length && !purposes.includes(CLIENT_AUTH) && !purposes.includes(ANY_EKU)) {
    return { ok: false, reason: `certificate ${cn(leaf)} is not for client authentication (its extendedKeyUsage lacks clientAuth)` };
  }
  const chain = [leaf];
  let firstFailure: string | undefined;
  // Depth-first over every issuer candidate: two CAs may share a subject name (a renewed root).
  const walk = (cert: X509Certificate): boolean => {
    const late = inTime(cert, now);
    if (late) {
      firstFailure ??= `certificate ${cn(cert)} ${late}`;
      return false;
    }
    if (chain.length > 1 && issuedBy(cert, cert)) return true;
    if (chain.length > MAX_DEPTH) return false;
    for (const issuer of pool) {
      if (!issuer.ca || chain.includes(issuer) || !issuedBy(cert, issuer)) continue;
      chain.push(issuer);
      if (walk(issuer)) return true;
      chain.pop();
    }
    return false;
  };
  if (walk(leaf)) return { ok: true, chain };
  return {
    ok: false,
    reason:
      firstFailure ?? `certificate ${cn(leaf)} does not chain to the client-CA pool (issuer ${cn({ subject: leaf.issuer } as X509Certificate)}): not trusted`,
  };
}
