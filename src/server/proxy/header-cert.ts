import { X509Certificate } from 'node:crypto';

export type HeaderCertResult = { ok: true; cert: X509Certificate } | { ok: false; reason: string };

const PEM = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * The client certificate a proxy passed in a header: URL-encoded PEM (nginx
 * $ssl_client_escaped_cert) or base64 DER (haproxy ssl_c_der,base64). Exactly one certificate:
 * two values mean a client's own header was passed along beside the proxy's.
 */
export function certFromHeader(values: readonly string[] | undefined): HeaderCertResult {
  if (!values || values.length === 0 || values.every((v) => v.trim() === ''))
    return { ok: false, reason: 'no client certificate header (the proxy verified no certificate)' };
  if (values.length > 1) return { ok: false, reason: 'the client certificate header came more than once (the proxy must replace a header a client sent)' };
  const value = values[0].trim();
  let der: Buffer;
  if (value.includes('BEGIN') || value.includes('%')) {
    let text: string;
    try {
      text = decodeURIComponent(value);
    } catch {
      return { ok: false, reason: 'the client certificate header is not valid URL-encoding' };
    }
    const blocks = [...text.matchAll(PEM)];
    if (blocks.length !== 1)
      return {
        ok: false,
        reason:
          blocks.length === 0 ? 'the client certificate header holds no PEM certificate' : 'the client certificate header holds more than one certificate',
      };
    const body = blocks[0][1].replace(/\s+/g, '');
    if (!BASE64.test(body)) return { ok: false, reason: 'the PEM certificate in the header is not base64' };
    der = Buffer.from(body, 'base64');
  } else {
    const body = value.replace(/\s+/g, '');
    if (!BASE64.test(body)) return { ok: false, reason: 'the client certificate header is neither URL-encoded PEM nor base64 DER' };
    der = Buffer.from(body, 'base64');
  }
  try {
    return { ok: true, cert: new X509Certificate(der) };
  } catch (err) {
    return { ok: false, reason: `the client certificate in the header does not parse: ${(err as Error).message}` };
  }
}
