/**
 * The checks `check-config` prints and `serve` runs at start: the TLS material as a vehicle and an
 * operator need it. Uses node:crypto only (no openssl binary). One line per check: ok, warn, fail.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { rootCertificates } from 'node:tls';
import type { Logger } from 'pino';
import { configPath } from '../config/load.js';
import { CONFIGURED_PRODUCERS, UNUSED_KEY_NOTES } from '../config/schema.js';
import type { Config } from '../config/types.js';
import { splitPem, teslaCaDir } from './ca-bundle.js';
import { certLabel } from './cert-label.js';
import { unreadableReason } from '../unreadable.js';

type CheckStatus = 'ok' | 'warn' | 'fail';

export interface CheckLine {
  status: CheckStatus;
  check: string;
  message: string;
}

export interface TlsCheckOptions {
  /** The time certificates are judged at (tests). */
  now?: Date;
  /** Names vehicles will connect to; each must be covered by the server certificate. */
  hostnames?: string[];
  /** Where Tesla's bundles are (tests); default: beside the program. */
  teslaCaDir?: string;
}

const DAY_MS = 24 * 60 * 60 * 1000;
/** A certificate expiring within this many days is a warning. */
export const EXPIRY_WARN_DAYS = 30;
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const ANY_EKU = '2.5.29.37.0';

export function formatLine(l: CheckLine): string {
  return `${l.status.padEnd(5)} ${l.check}: ${l.message}`;
}

interface Cert {
  x: X509Certificate;
  /** 1-based position in its file, for messages. */
  n: number;
  source: string;
}

/** The CN, or the whole subject when it has none. */
function nameOf(subjectOrIssuer: string): string {
  const cn = /^CN=(.*)$/m.exec(subjectOrIssuer);
  return JSON.stringify(cn ? cn[1] : subjectOrIssuer.split('\n').join(', '));
}

const day = (d: Date) => d.toISOString().slice(0, 10);

export function issuedBy(child: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return child.checkIssued(issuer) && child.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

const selfSigned = (c: X509Certificate) => issuedBy(c, c);

/** A path from the config as written, followed by where it resolves when it is relative. */
export function shownPath(config: Config, written: string): string {
  return isAbsolute(written) ? written : `${written} (${configPath(config, written)})`;
}

/** The rule for relative paths, in the words every message uses. */
function pathRule(config: Config): string {
  return `relative paths resolve from the config file's folder, ${config.baseDir}`;
}

/**
 * What follows "cannot read: no such file" for a path from the config: where it was looked for
 * and why there. Tesla's server resolves relative paths from its working directory, so a config
 * written for it often names files that exist only from there: say so when that is the case.
 */
export function unreadableNote(config: Config, written: string): string {
  if (isAbsolute(written)) return '';
  const abs = configPath(config, written);
  let note = ` at ${abs}; ${pathRule(config)}`;
  const fromCwd = resolve(written);
  if (fromCwd !== abs && existsSync(fromCwd)) {
    note += ` (${fromCwd} exists: Tesla's server resolves paths from its working directory; write that absolute path, or one relative to ${config.baseDir})`;
  }
  return note;
}

function readText(file: string): { text?: string; why?: string } {
  try {
    return { text: readFileSync(file, 'utf8') };
  } catch (err) {
    return { why: unreadableReason(err) };
  }
}

/** Every certificate of a PEM file, or the line saying why there are none. */
function loadCerts(check: string, label: string, file: string, note = ''): { certs?: Cert[]; fail?: CheckLine } {
  const { text, why } = readText(file);
  if (text === undefined) return { fail: { status: 'fail', check, message: `${label}: cannot read: ${why}${note}` } };
  const pems = splitPem(text);
  if (pems.length === 0) {
    const hint = /BEGIN [A-Z ]*PRIVATE KEY/.test(text) ? ' (it holds a private key: are cert and key swapped?)' : ' (expected -----BEGIN CERTIFICATE-----)';
    return { fail: { status: 'fail', check, message: `${label}: holds no PEM certificate${hint}` } };
  }
  const certs: Cert[] = [];
  for (const [i, pem] of pems.entries()) {
    try {
      certs.push({ x: new X509Certificate(pem), n: i + 1, source: label });
    } catch (err) {
      return { fail: { status: 'fail', check, message: `${label}: certificate #${i + 1} does not parse: ${(err as Error).message}` } };
    }
  }
  return { certs };
}

/** ok / warn / fail for one certificate's validity period. */
function expiry(check: string, what: string, c: X509Certificate, now: Date): CheckLine {
  const from = new Date(c.validFrom);
  const to = new Date(c.validTo);
  const left = Math.floor((to.getTime() - now.getTime()) / DAY_MS);
  if (from.getTime() > now.getTime()) {
    return { status: 'fail', check, message: `${what} is not valid before ${day(from)} (or this machine's clock is wrong)` };
  }
  if (to.getTime() <= now.getTime()) return { status: 'fail', check, message: `${what} expired on ${day(to)}` };
  if (left < EXPIRY_WARN_DAYS) return { status: 'warn', check, message: `${what} expires on ${day(to)}, in ${left} day${left === 1 ? '' : 's'}; renew it` };
  return { status: 'ok', check, message: `${what} valid until ${day(to)} (${left} days)` };
}

let publicRoots: X509Certificate[] | undefined;
/** Node's copy of the public web roots: only to tell a root that is not sent from a missing intermediate. */
export function publicRootCerts(): X509Certificate[] {
  publicRoots ??= rootCertificates.flatMap((pem) => {
    try {
      return [new X509Certificate(pem)];
    } catch {
      return [];
    }
  });
  return publicRoots;
}

function chainChecks(leafFile: string, certs: Cert[], anchors: Cert[], now: Date): CheckLine[] {
  const lines: CheckLine[] = [];
  const chain: Cert[] = [certs[0]];
  const rest = certs.slice(1);
  let end: 'self' | 'anchor' | 'public' | 'open' = 'open';
  let anchor: Cert | X509Certificate | undefined;
  for (;;) {
    const last = chain[chain.length - 1].x;
    if (selfSigned(last)) {
      end = 'self';
      break;
    }
    const next = rest.find((c) => !chain.includes(c) && issuedBy(last, c.x));
    if (next) {
      chain.push(next);
      continue;
    }
    anchor = anchors.find((c) => issuedBy(last, c.x));
    if (anchor) {
      end = 'anchor';
      break;
    }
    anchor = publicRootCerts().find((r) => issuedBy(last, r));
    if (anchor) end = 'public';
    break;
  }
  const path = chain.map((c) => nameOf(c.x.subject)).join(' issued by ');
  const last = chain[chain.length - 1].x;
  const leaf = chain[0].x;
  if (chain.length === 1 && end === 'self') {
    lines.push({
      status: 'ok',
      check: 'chain',
      message: `the server certificate ${nameOf(leaf.subject)} is self-signed; vehicles must be given it as the ca of their fleet_telemetry_config`,
    });
  } else if (end === 'self') {
    lines.push({ status: 'ok', check: 'chain', message: `complete: ${path} (root included)` });
  } else if (end === 'anchor') {
    const a = anchor as Cert;
    lines.push({ status: 'ok', check: 'chain', message: `complete: ${path} issued by ${nameOf(last.issuer)} (in ca_file: ${certLabel(a.x, a.source)})` });
  } else if (end === 'public') {
    lines.push({ status: 'ok', check: 'chain', message: `complete: ${path} issued by the public root ${nameOf(last.issuer)} (not sent; clients hold it)` });
  } else if (chain.length > 1) {
    // Sending the intermediates but not the root is the usual, correct way.
    lines.push({
      status: 'ok',
      check: 'chain',
      message: `${path} issued by ${nameOf(last.issuer)}, which is not sent: vehicles must trust it (the ca of their fleet_telemetry_config)`,
    });
  } else if (anchors.length > 0) {
    lines.push({
      status: 'fail',
      check: 'chain',
      message:
        `missing intermediate ${nameOf(leaf.issuer)}: it issued the server certificate ${nameOf(leaf.subject)} and is in neither ` +
        `server_cert nor ca_file; append it to ${leafFile} after the server certificate (a root there is harmless too)`,
    });
  } else {
    lines.push({
      status: 'warn',
      check: 'chain',
      message:
        `cannot confirm the chain: the issuer ${nameOf(leaf.issuer)} of the server certificate is not in server_cert; ` +
        `if it is an intermediate CA, append it to ${leafFile}, or vehicles will refuse the server`,
    });
  }
  const unused = rest.filter((c) => !chain.includes(c));
  for (const c of unused) {
    lines.push({
      status: 'warn',
      check: 'chain',
      message: `certificate #${c.n} ${nameOf(c.x.subject)} in ${leafFile} is not part of the server certificate's chain`,
    });
  }
  const order = chain.map((c) => c.n);
  if (order.some((n, i) => i > 0 && n < order[i - 1])) {
    lines.push({ status: 'warn', check: 'chain', message: `${leafFile} lists the chain out of order; put each certificate before its issuer` });
  }
  for (const [i, c] of chain.entries()) {
    const what = i === 0 ? `the server certificate ${nameOf(c.x.subject)}` : `chain certificate ${nameOf(c.x.subject)}`;
    lines.push(expiry('expiry', what, c.x, now));
  }
  return lines;
}

function nameChecks(leaf: X509Certificate, hostnames: string[]): CheckLine[] {
  const san = leaf.subjectAltName?.replace(/IP Address:/g, 'IP:');
  const lines: CheckLine[] = [];
  if (san) lines.push({ status: 'ok', check: 'names', message: `the server certificate covers ${san}` });
  else {
    lines.push({
      status: 'warn',
      check: 'names',
      message: `the server certificate has no subjectAltName, so it covers no name (TLS clients ignore its CN ${nameOf(leaf.subject)})`,
    });
  }
  for (const h of hostnames) {
    const covered = isIP(h) ? leaf.checkIP(h) : leaf.checkHost(h);
    lines.push(
      covered
        ? { status: 'ok', check: 'hostname', message: `${h} is covered by the server certificate` }
        : { status: 'fail', check: 'hostname', message: `${h} is not covered by the server certificate${san ? ` (it covers ${san})` : ''}` },
    );
  }
  const eku = leaf.keyUsage;
  if (leaf.ca) lines.push({ status: 'warn', check: 'usage', message: 'the server certificate is a CA certificate; use a leaf certificate issued by the CA' });
  if (eku && !eku.includes(SERVER_AUTH) && !eku.includes(ANY_EKU)) {
    lines.push({
      status: 'warn',
      check: 'usage',
      message: 'the server certificate is not for TLS server authentication (its extended key usage lacks serverAuth); vehicles may refuse it',
    });
  }
  return lines;
}

function loadKey(file: string, label: string, note = ''): { key?: KeyObject; fail?: CheckLine } {
  const { text, why } = readText(file);
  if (text === undefined) return { fail: { status: 'fail', check: 'server_key', message: `${label}: cannot read: ${why}${note}` } };
  if (/ENCRYPTED/.test(text))
    return {
      fail: { status: 'fail', check: 'server_key', message: `${label}: the key is encrypted; this server needs it unencrypted (protect the file instead)` },
    };
  try {
    return { key: createPrivateKey(text) };
  } catch {
    const hint = /BEGIN CERTIFICATE/.test(text) ? ' (it holds a certificate: are cert and key swapped?)' : '';
    return { fail: { status: 'fail', check: 'server_key', message: `${label}: holds no readable private key${hint}` } };
  }
}

function keyMatches(c: X509Certificate, key: KeyObject): boolean {
  try {
    return c.checkPrivateKey(key);
  } catch {
    return false;
  }
}

function caFileChecks(config: Config, now: Date): { lines: CheckLine[]; certs: Cert[] } {
  if (!config.tls.ca_file) return { lines: [], certs: [] };
  const label = config.tls.ca_file;
  const loaded = loadCerts('ca_file', label, configPath(config, label), unreadableNote(config, label));
  if (!loaded.certs) return { lines: [loaded.fail!], certs: [] };
  const lines: CheckLine[] = [];
  for (const c of loaded.certs) {
    if (!c.x.ca) {
      lines.push({
        status: 'fail',
        check: 'ca_file',
        message: `${label}: certificate #${c.n} ${nameOf(c.x.subject)} is not a CA certificate; ca_file holds the CAs that issue client certificates, not client or server certificates`,
      });
    }
    const e = expiry('ca_file', `${label}: CA certificate #${c.n} ${nameOf(c.x.subject)}`, c.x, now);
    if (e.status !== 'ok') lines.push(e);
  }
  if (!lines.some((l) => l.status === 'fail')) {
    const earliest = loaded.certs.map((c) => new Date(c.x.validTo)).sort((a, b) => a.getTime() - b.getTime())[0];
    const n = loaded.certs.length;
    const named =
      loaded.certs
        .slice(0, 3)
        .map((c) => certLabel(c.x))
        .join(', ') + (n > 3 ? ` and ${n - 3} more` : '');
    lines.unshift({
      status: 'ok',
      check: 'ca_file',
      message: `${shownPath(config, label)}: ${n} CA certificate${n === 1 ? '' : 's'} (${named}), valid until ${day(earliest)}${n > 1 ? ' at the earliest' : ''}`,
    });
  }
  return { lines, certs: loaded.certs };
}

/** Tesla's bundle: informational only; an expired CA in it stays in the pool (docs/protocol.md §1.2). */
function teslaBundleCheck(config: Config, now: Date, dir?: string): CheckLine {
  if (!config.tls.trust_tesla_ca) return { status: 'ok', check: 'tesla_ca', message: "Tesla's vehicle CA bundle is not trusted (tls.trust_tesla_ca is false)" };
  let file: string;
  try {
    file = join(dir ?? teslaCaDir(), config.use_default_eng_ca ? 'engineering.pem' : 'production.pem');
  } catch (err) {
    return { status: 'fail', check: 'tesla_ca', message: (err as Error).message };
  }
  const loaded = loadCerts('tesla_ca', file, file);
  if (!loaded.certs) return loaded.fail!;
  const expired = loaded.certs.filter((c) => new Date(c.x.validTo).getTime() <= now.getTime());
  const note = expired.length
    ? `; ${expired.map((c) => `${nameOf(c.x.subject)} expired on ${day(new Date(c.x.validTo))}`).join(', ')} and stays in the pool as intended`
    : '';
  return { status: 'ok', check: 'tesla_ca', message: `Tesla's ${basename(file, '.pem')} vehicle CA bundle: ${loaded.certs.length} certificates${note}` };
}

/** The TLS checks of check-config and start-up, in the order they print. */
export function checkTls(config: Config, opts: TlsCheckOptions = {}): CheckLine[] {
  const now = opts.now ?? new Date();
  const lines: CheckLine[] = [];
  const ca = caFileChecks(config, now);
  const certLabel = config.tls.server_cert;
  const keyLabel = config.tls.server_key;
  const relative = [certLabel, keyLabel, config.tls.ca_file].some((p) => p !== undefined && !isAbsolute(p));
  if (relative) lines.push({ status: 'ok', check: 'paths', message: `${pathRule(config)} (Tesla's server resolves them from its working directory)` });
  const loaded = loadCerts('server_cert', certLabel, configPath(config, certLabel), unreadableNote(config, certLabel));
  const key = loadKey(configPath(config, keyLabel), keyLabel, unreadableNote(config, keyLabel));
  if (loaded.certs) {
    const certs = loaded.certs;
    const leaf = certs[0].x;
    const n = certs.length;
    lines.push({
      status: 'ok',
      check: 'server_cert',
      message: `${shownPath(config, certLabel)}: ${n} certificate${n === 1 ? '' : 's'}; the server certificate is ${nameOf(leaf.subject)}, issued by ${nameOf(leaf.issuer)}`,
    });
    if (key.key) {
      if (keyMatches(leaf, key.key)) {
        lines.push({ status: 'ok', check: 'server_key', message: `${shownPath(config, keyLabel)} matches the server certificate` });
      } else {
        const other = certs.slice(1).find((c) => keyMatches(c.x, key.key!));
        lines.push({
          status: 'fail',
          check: 'server_key',
          message: other
            ? `${config.tls.server_key} belongs to certificate #${other.n} ${nameOf(other.x.subject)} of ${certLabel}; the server certificate must come first in that file`
            : `${config.tls.server_key} does not match the server certificate ${nameOf(leaf.subject)}: it is the key of another certificate`,
        });
      }
    } else lines.push(key.fail!);
    lines.push(...chainChecks(certLabel, certs, ca.certs, now));
    lines.push(...nameChecks(leaf, opts.hostnames ?? []));
  } else {
    lines.push(loaded.fail!);
    lines.push(
      key.fail ?? { status: 'ok', check: 'server_key', message: `${shownPath(config, keyLabel)} holds a private key (not compared: no server certificate)` },
    );
  }
  lines.push(...ca.lines);
  lines.push(teslaBundleCheck(config, now, opts.teslaCaDir));
  return lines;
}

/** The config's own lines: valid, routes, accepted-but-unused keys, other warnings. */
export function configChecks(config: Config, file: string): CheckLine[] {
  const routes = Object.entries(config.records).map(([t, names]) => `${t} → ${names.join(', ')}`);
  if (!config.records.connectivity && routes.length) {
    const all = [...new Set(Object.values(config.records).flat())];
    routes.push(`connectivity → ${all.join(', ')} (as the other record types)`);
  }
  const lines: CheckLine[] = [{ status: 'ok', check: 'config', message: `${file} is valid${routes.length ? `; records: ${routes.join('; ')}` : ''}` }];
  if (config.ignoredKeys.length) {
    const notes = config.ignoredKeys.map(
      (k) => `${k} (${UNUSED_KEY_NOTES.get(k) ?? (CONFIGURED_PRODUCERS.includes(k as never) ? 'no record type routes to it' : 'not used')})`,
    );
    lines.push({ status: 'warn', check: 'config', message: `accepted but not used by this server: ${notes.join(', ')}` });
  }
  const proxy = config.tls.proxy;
  if (proxy) {
    lines.push({
      status: 'ok',
      check: 'tls_proxy',
      message:
        `mTLS ends at a proxy in front: the vehicle port speaks plain HTTP to ${proxy.trusted_proxies.join(', ')} only, and verifies the certificate in ${proxy.client_cert_header} again; ` +
        "the proxy must ask for the vehicle's certificate naming Tesla's vehicle CAs and tls.ca_file only, and replace any such header a client sends",
    });
  }
  for (const w of config.warnings ?? []) lines.push({ status: 'warn', check: 'config', message: w });
  return lines;
}

/**
 * What serve runs before loading the TLS material: warnings go to the log, and the failing lines
 * come back for the start error. (Unused keys are logged by the caller already.)
 */
export function checkAtStart(config: Config, logger: Logger, opts: TlsCheckOptions = {}): string[] {
  const lines = [...(config.warnings ?? []).map((message): CheckLine => ({ status: 'warn', check: 'config', message })), ...checkTls(config, opts)];
  for (const l of lines) {
    if (l.status === 'warn') logger.warn({ event: 'startup_check', check: l.check }, l.message);
  }
  return lines.filter((l) => l.status === 'fail').map(formatLine);
}
