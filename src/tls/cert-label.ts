/**
 * How messages name a certificate, the same way everywhere: its common name (or whole subject),
 * the first 8 bytes of its SHA-256 fingerprint (as `openssl x509 -fingerprint -sha256` begins) and,
 * when known, the file it came from. Two CAs can share a name; their fingerprints never do.
 */
import type { X509Certificate } from 'node:crypto';

/** The CN of a Node (`CN=x\nO=y`) or RFC 2253 (`CN=x,O=y`) name, unescaped; the whole name without one. */
export function cnOf(name: string): string {
  const cn = name.includes('\n') ? /^CN=(.*)$/m.exec(name)?.[1] : /(?:^|,)CN=((?:\\.|[^,])*)/.exec(name)?.[1];
  return (cn ?? name.split('\n').join(', ')).replace(/\\(.)/g, '$1');
}

/** `3F:9A:21:C0:D1:E2:F3:A4`: enough to tell certificates apart, short enough to read. */
function shortFingerprint(x: X509Certificate): string {
  return x.fingerprint256.split(':').slice(0, 8).join(':');
}

/** `"name" (SHA-256 3F:9A:…, from FILE)`. */
export function certLabel(x: X509Certificate, file?: string): string {
  return `${JSON.stringify(cnOf(x.subject))} (SHA-256 ${shortFingerprint(x)}${file ? `, from ${file}` : ''})`;
}
