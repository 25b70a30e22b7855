import type { PeerCertificate } from 'node:tls';
import { randomUUID } from 'node:crypto';
import { vinFromCommonName, type VinResult } from '../publish/topics.js';
import { shortenForLog } from '../log-limit.js';

function first(v: unknown): unknown {
  return Array.isArray(v) ? v[0] : v;
}

/** VIN from the certificate alone (docs/protocol.md §1.3): its subject CN with `.` as `-`, refused when not a safe level. */
export function vinFromCertificate(cert: PeerCertificate | undefined): VinResult {
  const name = first(cert?.subject?.CN);
  if (typeof name !== 'string' || name.length === 0) return { ok: false, reason: 'certificate has no subject common name' };
  return vinFromCommonName(name);
}

/** For log lines: a certificate's subject CN and issuer, with what a client chose kept short. */
export function certificateNames(cert: PeerCertificate | undefined): { cn: string; issuer: string } {
  // JSON escapes make control characters visible in a readable log line.
  const show = (v: unknown) => JSON.stringify(shortenForLog(typeof v === 'string' ? v : v === undefined ? '' : JSON.stringify(v))).slice(1, -1);
  const issuer = cert?.issuer
    ? Object.entries(cert.issuer)
        .map(([k, v]) => `${k}=${show(first(v))}`)
        .join(', ')
    : '';
  return { cn: show(first(cert?.subject?.CN)), issuer };
}

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/** X-TXID when it is a UUID (lowercase canonical form), else a fresh UUID v4. */
export function connectionIdFrom(header: string | string[] | undefined): string {
  const v = (Array.isArray(header) ? header[0] : header)
    ?.trim()
    .replace(/^\{(.*)\}$/, '$1')
    .replace(/^urn:uuid:/i, '');
  if (v && UUID.test(v)) {
    const h = v.replace(/-/g, '').toLowerCase();
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
  return randomUUID();
}
