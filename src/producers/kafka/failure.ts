/**
 * Why a connection to the Kafka cluster failed, in the operator's terms: a TLS verification
 * error names the kafka key that decides it, since OpenSSL's own words ("unable to verify the
 * first certificate") do not say which side's trust is missing.
 */

import { UNTRUSTED_CHAIN } from '../../tls/verify-codes.js';

const OUT_OF_DATE = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);
const WRONG_NAME = 'ERR_TLS_CERT_ALTNAME_INVALID';

/** The error's code, or that of an error it wraps (kafkajs keeps the socket's code on its own error). */
function codeOf(err: unknown): string | undefined {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const { code, cause, originalError } = e as { code?: unknown; cause?: unknown; originalError?: unknown };
    if (typeof code === 'string') return code;
    e = cause ?? originalError;
  }
  return undefined;
}

export function kafkaFailureText(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const code = codeOf(err);
  if (code === undefined) return message;
  if (UNTRUSTED_CHAIN.has(code)) {
    return `the broker's TLS certificate is not trusted (${message}): kafka.ssl.ca.location or kafka.ssl.ca.pem must hold the CA that signed it`;
  }
  if (OUT_OF_DATE.has(code)) return `the broker's TLS certificate is not valid now (${message})`;
  if (code === WRONG_NAME) {
    return `the broker's TLS certificate does not name the address connected to (${message}); kafka.ssl.endpoint.identification.algorithm none turns this check off`;
  }
  return message;
}
