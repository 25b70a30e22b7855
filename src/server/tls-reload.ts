import { createPrivateKey, X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { unwatchFile, watchFile } from 'node:fs';
import type { Logger } from 'pino';
import { configPath } from '../config/load.js';
import type { Config } from '../config/types.js';
import { splitPem } from '../tls/ca-bundle.js';
import { serverTlsMaterial, type ServerTlsMaterial } from './tls.js';
import { unreadableReason } from '../unreadable.js';

/** How often the TLS files are looked at (stat); an ACME renewal is picked up within this. */
const TLS_WATCH_INTERVAL_MS = 2000;
/** A renewal writes the certificate and the key one after the other: one reload after both. */
const TLS_SETTLE_MS = 1000;

type TlsLoad = { ok: true; material: ServerTlsMaterial } | { ok: false; file: string; reason: string };

/**
 * The TLS files read and judged as a new context would use them; a broken one is named with
 * the reason, so the caller keeps the context it has.
 */
function loadTlsMaterial(config: Config): TlsLoad {
  const certFile = configPath(config, config.tls.server_cert);
  const keyFile = configPath(config, config.tls.server_key);
  let m: ServerTlsMaterial;
  try {
    m = serverTlsMaterial(config);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const file = e.path ?? /^(\S+) holds no PEM certificate/.exec(e.message)?.[1] ?? certFile;
    return { ok: false, file, reason: e.syscall ? unreadableReason(e) : e.message };
  }
  const certs = splitPem(m.cert);
  if (certs.length === 0) return { ok: false, file: certFile, reason: 'holds no PEM certificate' };
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(certs[0]);
  } catch (err) {
    return { ok: false, file: certFile, reason: `the certificate does not parse: ${(err as Error).message}` };
  }
  try {
    if (!leaf.checkPrivateKey(createPrivateKey(m.key))) return { ok: false, file: keyFile, reason: `the key is not the key of the certificate in ${certFile}` };
  } catch (err) {
    return { ok: false, file: keyFile, reason: `not a readable unencrypted private key: ${(err as Error).message}` };
  }
  try {
    createSecureContext({ cert: m.cert, key: m.key, ca: m.ca });
  } catch (err) {
    return { ok: false, file: certFile, reason: (err as Error).message };
  }
  return { ok: true, material: m };
}

export interface TlsReloader {
  /** Reads the files again; true when a new context went into use. */
  reload(trigger: string): boolean;
  close(): void;
}

/**
 * Reloads tls.server_cert, tls.server_key and tls.ca_file on demand (SIGHUP) and when one of
 * them changes, and hands good material to `apply` (the vehicle listener, the workers, the
 * public key page). New handshakes get the new context; open connections keep theirs. A broken
 * file leaves the old context in use with one error line naming the file and the reason.
 */
export function startTlsReloader(
  config: Config,
  current: ServerTlsMaterial,
  logger: Logger,
  apply: (m: ServerTlsMaterial) => void,
  intervalMs = TLS_WATCH_INTERVAL_MS,
): TlsReloader {
  let inUse = current;
  const files = [config.tls.server_cert, config.tls.server_key, config.tls.ca_file].filter((f): f is string => !!f).map((f) => configPath(config, f));
  let timer: NodeJS.Timeout | undefined;
  // The signal and the watcher often see one broken write both: it is said once.
  let lastFailure: string | undefined;
  const reload = (trigger: string): boolean => {
    const r = loadTlsMaterial(config);
    if (!r.ok) {
      const key = `${r.file}\n${r.reason}`;
      if (key === lastFailure) return false;
      lastFailure = key;
      logger.error(
        { event: 'tls_reload_failed', trigger, file: r.file, reason: r.reason },
        `TLS reload (${trigger}): ${r.file}: ${r.reason}; the certificate in use stays`,
      );
      return false;
    }
    lastFailure = undefined;
    const m = r.material;
    if (m.cert === inUse.cert && m.key === inUse.key && m.ca.join('') === inUse.ca.join('')) {
      logger.info({ event: 'tls_unchanged', trigger }, `TLS reload (${trigger}): the files are unchanged`);
      return false;
    }
    apply(m);
    inUse = m;
    const leaf = new X509Certificate(splitPem(m.cert)[0]);
    logger.info(
      {
        event: 'tls_reloaded',
        trigger,
        subject: leaf.subject.replace(/\n/g, ', '),
        not_after: new Date(leaf.validTo).toISOString(),
        fingerprint256: leaf.fingerprint256,
      },
      `TLS reloaded (${trigger}): new handshakes use the certificate valid until ${new Date(leaf.validTo).toISOString()}`,
    );
    return true;
  };
  const changed = () => {
    // The files of one renewal change together: wait for them to settle, reload once.
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      reload('file_changed');
    }, TLS_SETTLE_MS);
    timer.unref();
  };
  // watchFile (stat polling) follows a path through symlinks and renames, as certbot's live/ links do.
  const listeners = files.map((f) => {
    const l = (now: { mtimeMs: number; ino: number; size: number }, before: { mtimeMs: number; ino: number; size: number }) => {
      if (now.mtimeMs !== before.mtimeMs || now.ino !== before.ino || now.size !== before.size) changed();
    };
    watchFile(f, { interval: intervalMs, persistent: false }, l);
    return [f, l] as const;
  });
  return {
    reload,
    close: () => {
      if (timer) clearTimeout(timer);
      for (const [f, l] of listeners) unwatchFile(f, l);
    },
  };
}
