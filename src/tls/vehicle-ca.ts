/**
 * The `ca` of a vehicle's fleet_telemetry_config: the PEM chain a vehicle must trust to accept
 * this server. Derived from the server's own chain, whoever issued it (this project's dev CA, an
 * ACME CA, a company CA): the certificates above the server certificate, ending at its root.
 */
import { type X509Certificate } from 'node:crypto';
import { issuedBy, publicRootCerts } from './check.js';

export interface DerivedCa {
  /** PEM, intermediates first, the root last. */
  pem?: string;
  /** Where the root came from, for the note printed beside the output. */
  source?: string;
  /** Why no ca could be derived. */
  error?: string;
}

const nameOf = (s: string) => JSON.stringify(/^CN=(.*)$/m.exec(s)?.[1] ?? s.split('\n').join(', '));
const toPem = (c: X509Certificate) => (c.toString().endsWith('\n') ? c.toString() : `${c.toString()}\n`);
const selfSigned = (c: X509Certificate) => issuedBy(c, c);

/**
 * Follows the server chain (`serverCerts`, leaf first, as `tls.server_cert` holds it) up to a
 * self-signed root, taking the root from `extraCas` (e.g. `tls.ca_file`) or the public roots
 * Node ships when the chain file stops below it.
 */
export function deriveVehicleCa(serverCerts: X509Certificate[], extraCas: { certs: X509Certificate[]; label: string }[]): DerivedCa {
  const leaf = serverCerts[0];
  if (!leaf) return { error: 'the server certificate file holds no certificate' };
  if (selfSigned(leaf)) return { pem: toPem(leaf), source: `the self-signed server certificate ${nameOf(leaf.subject)}` };
  const chain = [leaf];
  const rest = serverCerts.slice(1);
  for (;;) {
    const last = chain[chain.length - 1];
    if (selfSigned(last)) return { pem: chain.slice(1).map(toPem).join(''), source: 'the server certificate file (root included)' };
    const next = rest.find((c) => !chain.includes(c) && issuedBy(last, c));
    if (next) {
      chain.push(next);
      continue;
    }
    for (const { certs, label } of extraCas) {
      const anchor = certs.find((c) => issuedBy(last, c));
      if (anchor)
        return { pem: [...chain.slice(1), anchor].map(toPem).join(''), source: `the server certificate file and ${nameOf(anchor.subject)} from ${label}` };
    }
    const root = publicRootCerts().find((r) => issuedBy(last, r));
    if (root) return { pem: [...chain.slice(1), root].map(toPem).join(''), source: `the server certificate file and the public root ${nameOf(root.subject)}` };
    return {
      error: `the CA ${nameOf(last.issuer)} that issued ${nameOf(last.subject)} is in neither the server certificate file, tls.ca_file nor the public roots; pass it with --ca FILE`,
    };
  }
}
