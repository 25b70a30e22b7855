import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** ca/ ships inside the package beside dist/ (and beside build/ in tests): look upward. */
export function teslaCaDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'ca');
    if (existsSync(join(candidate, 'production.pem'))) return candidate;
    const up = dirname(dir);
    if (up === dir) throw new Error("Tesla's vehicle CA bundle (ca/production.pem) not found beside the program");
    dir = up;
  }
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Each certificate of a PEM bundle on its own, so every one is offered as a CA name. */
export function splitPem(text: string): string[] {
  return (text.match(PEM_CERT) ?? []).map((p) => p + '\n');
}
