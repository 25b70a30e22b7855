import type { PeerCertificate } from 'node:tls';
import { randomUUID } from 'node:crypto';
import { vinFromCommonName } from '../publish/topics.js';

/** VIN from the certificate alone (§1): its subject CN with `.` as `-`. */
export function vinFromCertificate(cert: PeerCertificate | undefined): string | undefined {
  const cn = cert?.subject?.CN as unknown;
  const name = Array.isArray(cn) ? cn[0] : cn;
  return typeof name === 'string' && name.length ? vinFromCommonName(name) : undefined;
}

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/** X-TXID when it is a UUID (lowercase canonical form), else a fresh UUID v4. */
export function connectionIdFrom(header: string | string[] | undefined): string {
  const v = (Array.isArray(header) ? header[0] : header)?.trim().replace(/^\{(.*)\}$/, '$1').replace(/^urn:uuid:/i, '');
  if (v && UUID.test(v)) {
    const h = v.replace(/-/g, '').toLowerCase();
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
  return randomUUID();
}
