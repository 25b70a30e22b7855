import type { X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { PeerCertificate } from 'node:tls';
import { certFromHeader } from './header-cert.js';
import { verifyClientCert } from './verify.js';

export type ProxiedCert = { ok: true; cert: PeerCertificate } | { ok: false; reason: string };

/**
 * The vehicle certificate behind a trusted proxy, verified again against the client-CA pool, in
 * the shape `getPeerCertificate()` gives for direct mTLS: the VIN is then taken by the very same
 * function (identity.ts) in both modes.
 */
export function proxiedCertificate(req: IncomingMessage, header: string, pool: readonly X509Certificate[], now = new Date()): ProxiedCert {
  const values = req.headersDistinct[header.toLowerCase()];
  const parsed = certFromHeader(values);
  if (!parsed.ok) return parsed;
  const verified = verifyClientCert(parsed.cert, pool, now);
  if (!verified.ok) return verified;
  return { ok: true, cert: parsed.cert.toLegacyObject() };
}
