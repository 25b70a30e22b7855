/**
 * Development PKI: a local CA, a localhost server certificate and per-VIN client
 * certificates, generated in-process (no openssl binary, no network).
 */
import { createPrivateKey, createPublicKey, randomBytes, webcrypto } from 'node:crypto';
import { chmod, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface KeyPairPem {
  certPem: string;
  /** PKCS#8 PEM ("PRIVATE KEY"). */
  keyPem: string;
}

export interface CaOptions {
  commonName?: string;
  days?: number;
  notBefore?: Date;
  notAfter?: Date;
  /** When given, the new CA is an intermediate signed by this CA; otherwise a self-signed root. */
  issuer?: KeyPairPem;
}

export interface LeafOptions {
  commonName: string;
  kind: 'server' | 'client';
  dnsNames?: string[];
  ipAddresses?: string[];
  days?: number;
  notBefore?: Date;
  notAfter?: Date;
}

export interface DevCertPaths {
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  vehicles: Record<string, { cert: string; key: string }>;
  /** Every file considered, in order, and whether this call wrote it or kept an existing one. */
  files: { path: string; action: 'written' | 'kept' }[];
}

const DEFAULT_CA_DAYS = 3650;
/** 825 days: the longest leaf validity Apple platforms still accept. */
const DEFAULT_LEAF_DAYS = 825;
/** Back-date notBefore so a peer whose clock is slightly behind still accepts a fresh cert. */
const CLOCK_SKEW_MS = 5 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

const EC_KEY_ALG = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING_ALG = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** File names must stay inside outDir, so VINs are restricted to a safe alphabet. */
export const VIN_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

type X509 = typeof import('@peculiar/x509');
type Extension = import('@peculiar/x509').Extension;
let x509Loaded: Promise<X509> | undefined;

/**
 * tsyringe (used inside @peculiar/x509) refuses to load without Reflect metadata
 * functions, and no polyfill package is a dependency; it only needs these three,
 * at class level, so a tiny WeakMap-backed version is enough. Installed only if absent.
 */
function ensureReflectMetadata(): void {
  const R = Reflect as unknown as Record<string, unknown>;
  if (typeof R.getMetadata === 'function') return;
  const store = new WeakMap<object, Map<unknown, unknown>>();
  R.defineMetadata = (key: unknown, value: unknown, target: object): void => {
    let m = store.get(target);
    if (!m) store.set(target, (m = new Map()));
    m.set(key, value);
  };
  R.getOwnMetadata = (key: unknown, target: object): unknown => store.get(target)?.get(key);
  R.getMetadata = (key: unknown, target: object): unknown => {
    for (let o: object | null = target; o != null; o = Object.getPrototypeOf(o) as object | null) {
      const m = store.get(o);
      if (m?.has(key)) return m.get(key);
    }
    return undefined;
  };
}

/** Loaded lazily so the Reflect shim is in place before the library evaluates. */
function lib(): Promise<X509> {
  x509Loaded ??= (async () => {
    ensureReflectMetadata();
    const x509 = await import('@peculiar/x509');
    x509.cryptoProvider.set(webcrypto as unknown as Crypto);
    return x509;
  })();
  return x509Loaded;
}

function randomSerial(): string {
  const b = webcrypto.getRandomValues(new Uint8Array(16));
  // High bit clear keeps the INTEGER positive; bit 6 set avoids a leading zero byte.
  b[0] = (b[0] & 0x7f) | 0x40;
  return Buffer.from(b).toString('hex');
}

function validity(opts: { days?: number; notBefore?: Date; notAfter?: Date }, defaultDays: number): { notBefore: Date; notAfter: Date } {
  const notBefore = opts.notBefore ?? new Date(Date.now() - CLOCK_SKEW_MS);
  const days = opts.days ?? defaultDays;
  if (!(days > 0)) throw new RangeError(`days must be positive, got ${days}`);
  const notAfter = opts.notAfter ?? new Date(notBefore.getTime() + days * DAY_MS);
  if (notAfter.getTime() <= notBefore.getTime()) throw new RangeError('notAfter must be after notBefore');
  return { notBefore, notAfter };
}

async function newKeyPair(x509: X509): Promise<CryptoKeyPair> {
  return x509.cryptoProvider.get().subtle.generateKey(EC_KEY_ALG, true, ['sign', 'verify']);
}

/** The library omits the final newline; without it, concatenated chains are invalid PEM. */
function pemLine(pem: string): string {
  return pem.endsWith('\n') ? pem : `${pem}\n`;
}

async function exportKeyPem(x509: X509, key: CryptoKey): Promise<string> {
  const der = await x509.cryptoProvider.get().subtle.exportKey('pkcs8', key);
  return pemLine(x509.PemConverter.encode(der, 'PRIVATE KEY'));
}

interface LoadedIssuer {
  cert: InstanceType<X509['X509Certificate']>;
  signingKey: CryptoKey;
}

async function loadIssuer(x509: X509, issuer: KeyPairPem): Promise<LoadedIssuer> {
  const cert = new x509.X509Certificate(issuer.certPem);
  // Node parses SEC1 and PKCS#8 alike, so a hand-made CA key also works.
  const keyObj = createPrivateKey(issuer.keyPem);
  if (keyObj.asymmetricKeyType !== 'ec' || keyObj.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error('issuer key must be an EC P-256 private key');
  }
  const pkcs8 = keyObj.export({ type: 'pkcs8', format: 'der' });
  const signingKey = await x509.cryptoProvider.get().subtle.importKey('pkcs8', pkcs8, EC_KEY_ALG, false, ['sign']);
  return { cert, signingKey };
}

/** AKI must equal the issuer's SKI for chain building; derive it only if the issuer lacks one. */
async function authorityKeyId(x509: X509, issuerCert: LoadedIssuer['cert']) {
  const ski = issuerCert.getExtension(x509.SubjectKeyIdentifierExtension);
  if (ski) return new x509.AuthorityKeyIdentifierExtension(ski.keyId);
  return x509.AuthorityKeyIdentifierExtension.create(issuerCert.publicKey);
}

/**
 * A generated CA's common name: what it is for and 8 random hex digits, so two CAs made by two
 * runs (`make run`'s and `certs --hostname`'s) never share a subject a message could confuse.
 * A common name holds at most 64 characters: a long purpose is cut.
 */
function caCommonName(purpose: string): string {
  return `fleet-telemetry ${purpose.slice(0, 36)} CA ${randomBytes(4).toString('hex')}`;
}

/** EC P-256 CA: self-signed root, or an intermediate when `opts.issuer` is given. */
export async function createCa(opts: CaOptions = {}): Promise<KeyPairPem> {
  const x509 = await lib();
  const keys = await newKeyPair(x509);
  const { notBefore, notAfter } = validity(opts, DEFAULT_CA_DAYS);
  const name = new x509.Name([{ CN: [opts.commonName ?? caCommonName('dev')] }]);
  const extensions: Extension[] = [
    new x509.BasicConstraintsExtension(true, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  let cert;
  if (opts.issuer) {
    const issuer = await loadIssuer(x509, opts.issuer);
    extensions.push(await authorityKeyId(x509, issuer.cert));
    cert = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject: name,
      issuer: issuer.cert.subjectName,
      notBefore,
      notAfter,
      publicKey: keys.publicKey,
      signingKey: issuer.signingKey,
      signingAlgorithm: SIGNING_ALG,
      extensions,
    });
  } else {
    cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerial(),
      name,
      notBefore,
      notAfter,
      keys,
      signingAlgorithm: SIGNING_ALG,
      extensions,
    });
  }
  return { certPem: pemLine(cert.toString('pem')), keyPem: await exportKeyPem(x509, keys.privateKey) };
}

/** EC P-256 leaf for TLS server or client authentication, signed by `issuer`. */
export async function issueCert(issuer: KeyPairPem, opts: LeafOptions): Promise<KeyPairPem> {
  const x509 = await lib();
  const ca = await loadIssuer(x509, issuer);
  const keys = await newKeyPair(x509);
  const { notBefore, notAfter } = validity(opts, DEFAULT_LEAF_DAYS);
  const extensions: Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([opts.kind === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth], false),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await authorityKeyId(x509, ca.cert),
  ];
  const sans = [
    ...(opts.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(opts.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  if (sans.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(sans, false));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: new x509.Name([{ CN: [opts.commonName] }]),
    issuer: ca.cert.subjectName,
    notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey: ca.signingKey,
    signingAlgorithm: SIGNING_ALG,
    extensions,
  });
  return { certPem: pemLine(cert.toString('pem')), keyPem: await exportKeyPem(x509, keys.privateKey) };
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

async function readIfExists(p: string): Promise<string | undefined> {
  try {
    return await readFile(p, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Write via a temp file + rename so a crash never leaves a half-written PEM, and keys are never briefly world-readable. */
async function writeAtomic(file: string, data: string, mode: number): Promise<void> {
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(tmp, data, { mode });
  await chmod(tmp, mode); // umask may have narrowed it; a wider mode is never requested
  await rename(tmp, file);
}

/** Reads `ca.pem`/`ca.key` from dir; undefined when either is missing. Throws if they do not match. */
export async function loadCa(dir: string): Promise<KeyPairPem | undefined> {
  const certPem = await readIfExists(path.join(dir, 'ca.pem'));
  const keyPem = await readIfExists(path.join(dir, 'ca.key'));
  if (certPem === undefined || keyPem === undefined) return undefined;
  const fromKey = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' });
  const fromCert = createPublicKey(certPem).export({ type: 'spki', format: 'der' });
  if (!fromKey.equals(fromCert)) throw new Error(`${dir}: ca.key does not belong to ca.pem`);
  return { certPem, keyPem };
}

/**
 * Writes a dev CA, a localhost server cert and one client cert per VIN into outDir.
 * An existing CA is reused (unless force) so VINs can be added later; then existing
 * server/vehicle pairs are kept too. A new CA always re-issues everything it lists.
 */
export async function writeDevCerts(outDir: string, vins: string[], opts: { force?: boolean } = {}): Promise<DevCertPaths> {
  for (const vin of vins) {
    if (!VIN_PATTERN.test(vin)) throw new Error(`invalid VIN ${JSON.stringify(vin)}: use letters, digits, _ or -`);
  }
  const dir = path.resolve(outDir);
  const vehiclesDir = path.join(dir, 'vehicles');
  await mkdir(vehiclesDir, { recursive: true });

  const result: DevCertPaths = {
    dir,
    caCert: path.join(dir, 'ca.pem'),
    caKey: path.join(dir, 'ca.key'),
    serverCert: path.join(dir, 'server.pem'),
    serverKey: path.join(dir, 'server.key'),
    vehicles: {},
    files: [],
  };

  let ca = opts.force ? undefined : await loadCa(dir);
  const reuse = ca !== undefined;
  if (!ca) {
    // Refuse to silently replace half of an existing CA: the other half may be someone's only copy.
    if (!opts.force && ((await exists(result.caCert)) || (await exists(result.caKey)))) {
      throw new Error(`${dir} has only one of ca.pem/ca.key; pass force to replace the CA`);
    }
    ca = await createCa({ commonName: caCommonName('localhost dev') });
    await writeAtomic(result.caKey, ca.keyPem, 0o600);
    await writeAtomic(result.caCert, ca.certPem, 0o644);
  }
  const caAction = reuse ? 'kept' : 'written';
  result.files.push({ path: result.caCert, action: caAction }, { path: result.caKey, action: caAction });

  const issuer = ca;
  const pair = async (cert: string, key: string, make: () => Promise<KeyPairPem>): Promise<void> => {
    if (reuse && (await exists(cert)) && (await exists(key))) {
      result.files.push({ path: cert, action: 'kept' }, { path: key, action: 'kept' });
      return;
    }
    const kp = await make();
    await writeAtomic(key, kp.keyPem, 0o600);
    await writeAtomic(cert, kp.certPem, 0o644);
    result.files.push({ path: cert, action: 'written' }, { path: key, action: 'written' });
  };

  await pair(result.serverCert, result.serverKey, () =>
    issueCert(issuer, {
      commonName: 'localhost',
      kind: 'server',
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1', '::1'],
    }),
  );
  for (const vin of new Set(vins)) {
    const paths = { cert: path.join(vehiclesDir, `${vin}.pem`), key: path.join(vehiclesDir, `${vin}.key`) };
    result.vehicles[vin] = paths;
    await pair(paths.cert, paths.key, () => issueCert(issuer, { commonName: vin, kind: 'client' }));
  }
  return result;
}

/** A DNS name a server certificate may cover: labels of letters, digits and `-`, optionally `*.` first. */
export const HOSTNAME_PATTERN = /^(\*\.)?(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*$/;

export interface NamedServerCertPaths {
  dir: string;
  caCert: string;
  caKey: string;
  /** The server certificate alone. */
  cert: string;
  key: string;
  /** The server certificate followed by the CA that issued it: what `tls.server_cert` should name. */
  chain: string;
  files: { path: string; action: 'written' | 'kept' }[];
}

/**
 * Issues a server certificate for public names (and IP addresses) from the dev CA in outDir,
 * creating the CA when it is absent and reusing it when present, so certificates already given
 * to vehicles keep verifying. Writes `server-<first name>.pem`/`.key` and `-chain.pem` (the
 * certificate then the CA). The certificate is issued anew on every call.
 */
export async function writeNamedServerCert(
  outDir: string,
  names: { dnsNames: string[]; ipAddresses: string[] },
  opts: { force?: boolean; days?: number } = {},
): Promise<NamedServerCertPaths> {
  const { dnsNames, ipAddresses } = names;
  if (dnsNames.length + ipAddresses.length === 0) throw new Error('a server certificate needs at least one host name or IP address');
  for (const n of dnsNames) if (!HOSTNAME_PATTERN.test(n)) throw new Error(`invalid host name ${JSON.stringify(n)}`);
  const dir = path.resolve(outDir);
  await mkdir(dir, { recursive: true });
  const caCert = path.join(dir, 'ca.pem');
  const caKey = path.join(dir, 'ca.key');
  const files: NamedServerCertPaths['files'] = [];
  let ca = opts.force ? undefined : await loadCa(dir);
  if (ca) {
    files.push({ path: caCert, action: 'kept' }, { path: caKey, action: 'kept' });
  } else {
    if (!opts.force && ((await exists(caCert)) || (await exists(caKey)))) {
      throw new Error(`${dir} has only one of ca.pem/ca.key; pass force to replace the CA`);
    }
    ca = await createCa({ commonName: caCommonName(`${(dnsNames[0] ?? ipAddresses[0]).replace(/^\*\./, '')} server`) });
    await writeAtomic(caKey, ca.keyPem, 0o600);
    await writeAtomic(caCert, ca.certPem, 0o644);
    files.push({ path: caCert, action: 'written' }, { path: caKey, action: 'written' });
  }
  const first = (dnsNames[0] ?? ipAddresses[0]).replace(/^\*\./, 'wildcard.').replace(/:/g, '_');
  const base = path.join(dir, `server-${first}`);
  const kp = await issueCert(ca, { commonName: dnsNames[0] ?? ipAddresses[0], kind: 'server', dnsNames, ipAddresses, days: opts.days });
  const paths = { cert: `${base}.pem`, key: `${base}.key`, chain: `${base}-chain.pem` };
  await writeAtomic(paths.key, kp.keyPem, 0o600);
  await writeAtomic(paths.cert, kp.certPem, 0o644);
  await writeAtomic(paths.chain, kp.certPem + ca.certPem, 0o644);
  files.push({ path: paths.cert, action: 'written' }, { path: paths.key, action: 'written' }, { path: paths.chain, action: 'written' });
  return { dir, caCert, caKey, ...paths, files };
}
