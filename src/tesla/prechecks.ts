import { request } from 'node:https';
import { rootCertificates } from 'node:tls';
import { explainVerifyError, probeTls } from '../tls/probe.js';
import { publicKeyFingerprint } from './app-key.js';

/**
 * Why a car given this config would not trust the server, or undefined when it would: a real
 * TLS handshake to hostname:port judged against the config's `ca` and host name.
 */
export async function endpointProblem(c: { hostname: string; port?: number; ca: string }, timeoutMs = 10_000): Promise<string | undefined> {
  const port = c.port ?? 443;
  const p = await probeTls({ host: c.hostname, port, ca: c.ca, timeoutMs });
  if (p.error) return `cannot reach ${c.hostname}:${port}: ${p.error.code ?? ''} ${p.error.message}`.replace(/\s+/g, ' ').trim();
  if (!p.authorized)
    return `${c.hostname}:${port} serves a chain the config's ca does not verify: ${explainVerifyError(p.authorizationError ?? '', p.chain, { pem: c.ca, from: 'the config\'s "ca"' })}`;
  if (p.nameError) return `${c.hostname}:${port}: ${p.nameError}`;
  return undefined;
}

/**
 * The fingerprint of the key a public key page serves, or why it serves none. `ca` is added to
 * the public roots (the page may use the vehicle listener's certificate of a private CA).
 */
export function fetchPublicKeyFingerprint(
  url: string,
  o: { ca?: string; servername?: string; timeoutMs?: number } = {},
): Promise<{ fingerprint: string } | { problem: string }> {
  return new Promise((resolve) => {
    const req = request(
      url,
      { method: 'GET', ca: o.ca ? [...rootCertificates, o.ca] : undefined, servername: o.servername, timeout: o.timeoutMs ?? 10_000, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          if (res.statusCode !== 200) return resolve({ problem: `${url} answered HTTP ${res.statusCode}` });
          try {
            resolve({ fingerprint: publicKeyFingerprint(Buffer.concat(chunks).toString('utf8')) });
          } catch (err) {
            resolve({ problem: `${url} serves no public key: ${(err as Error).message}` });
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer in time')));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ problem: `${url}: ${err.code ?? ''} ${err.message}`.replace(/\s+/g, ' ').trim() }));
    req.end();
  });
}
