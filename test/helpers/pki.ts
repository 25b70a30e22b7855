import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCa, issueCert, type KeyPairPem } from '../../src/tls/dev-certs.js';

export interface TestPki {
  dir: string;
  ca: KeyPairPem;
  caFile: string;
  serverCert: string;
  serverKey: string;
  vehicle(vin: string): Promise<KeyPairPem>;
  /** A vehicle certificate from a CA the server does not trust. */
  stranger: KeyPairPem;
}

/** A development CA, a server certificate for localhost and vehicle certificates on demand. */
export async function makePki(dir: string): Promise<TestPki> {
  mkdirSync(dir, { recursive: true });
  const ca = await createCa({ commonName: 'Test Fleet CA' });
  const server = await issueCert(ca, { commonName: 'localhost', kind: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const other = await createCa({ commonName: 'Other CA' });
  const stranger = await issueCert(other, { commonName: '5YJ3E1EA7KF999999', kind: 'client' });
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, ca.certPem);
  writeFileSync(join(dir, 'server.pem'), server.certPem);
  writeFileSync(join(dir, 'server.key'), server.keyPem);
  const cache = new Map<string, Promise<KeyPairPem>>();
  return {
    dir,
    ca,
    caFile,
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server.key'),
    vehicle: (vin) => {
      let p = cache.get(vin);
      if (!p) cache.set(vin, (p = issueCert(ca, { commonName: vin, kind: 'client' })));
      return p;
    },
    stranger,
  };
}
