import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { issueCert, loadCa, type KeyPairPem } from '../tls/dev-certs.js';

/** Emulated VINs: a Model 3 prefix and a serial, so `certs`' default VIN is vehicle 1. */
const VIN_PREFIX = '5YJ3E1EA7KF';

export function emulatorVin(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 999_999) throw new RangeError(`vehicle number out of range: ${n}`);
  return `${VIN_PREFIX}${String(n).padStart(6, '0')}`;
}

/** VINs of vehicles first … first+count-1. */
export function emulatorVins(count: number, first = 1): string[] {
  return Array.from({ length: count }, (_, i) => emulatorVin(first + i));
}

export type CertSource = (vin: string) => Promise<KeyPairPem>;

async function readPair(cert: string, key: string): Promise<KeyPairPem | undefined> {
  try {
    return { certPem: await readFile(cert, 'utf8'), keyPem: await readFile(key, 'utf8') };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Client certificates from a directory laid out like `fleet-telemetry certs` writes it:
 * `vehicles/<VIN>.pem|.key` when present, otherwise issued in memory from `ca.pem` + `ca.key`
 * (nothing is written, so emulating thousands of cars leaves no files behind).
 */
export function certSourceFromDir(dir: string): CertSource {
  let ca: Promise<KeyPairPem | undefined> | undefined;
  return async (vin) => {
    const own = await readPair(path.join(dir, 'vehicles', `${vin}.pem`), path.join(dir, 'vehicles', `${vin}.key`));
    if (own) return own;
    const issuer = await (ca ??= loadCa(dir));
    if (!issuer) {
      throw new Error(
        `no certificate for ${vin} in ${path.join(dir, 'vehicles')} and no CA (ca.pem + ca.key) in ${dir} to issue one; ` +
          `run "fleet-telemetry certs --out ${dir}"`,
      );
    }
    return issueCert(issuer, { commonName: vin, kind: 'client' });
  };
}

/** Client certificates issued in memory from a CA (tests, benchmarks). */
export function certSourceFromCa(ca: KeyPairPem): CertSource {
  return (vin) => issueCert(ca, { commonName: vin, kind: 'client' });
}
