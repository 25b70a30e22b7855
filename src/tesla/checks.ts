import { statSync } from 'node:fs';
import { configPath } from '../config/load.js';
import type { Config } from '../config/types.js';
import { isCoded } from '../errors.js';
import type { CheckLine } from '../tls/check.js';
import { PUBLIC_KEY_PATH, publicKeyUrl, readAppKey, type AppKey } from './app-key.js';

/** check-config's lines for the `tesla` block: the key, its fingerprint, the page. */
export function teslaChecks(config: Config): CheckLine[] {
  const file = config.tesla.private_key;
  if (!file) return [];
  const path = configPath(config, file);
  let key: AppKey;
  try {
    key = readAppKey(path);
  } catch (err) {
    if (isCoded(err)) return [{ status: 'fail', check: 'tesla_key', message: `${err.message} [${err.code}]` }];
    throw err;
  }
  const lines: CheckLine[] = [{ status: 'ok', check: 'tesla_key', message: `${path}: P-256 private key, fingerprint ${key.fingerprint}` }];
  const mode = statSync(path).mode & 0o777;
  if (mode & 0o077) lines.push({ status: 'warn', check: 'tesla_key', message: `${path} is readable by others (mode 0${mode.toString(8)}): chmod 600 it` });
  const port = config.tesla.public_key_port;
  if (port === undefined) {
    lines.push({
      status: 'ok',
      check: 'public_key_page',
      message: `not served here (no tesla.public_key_port): publish the public key at https://<your domain>${PUBLIC_KEY_PATH} yourself`,
    });
    return lines;
  }
  lines.push({
    status: 'ok',
    check: 'public_key_page',
    message: `${publicKeyUrl(config.host, port)} serves the public key of tesla.private_key (fingerprint ${key.fingerprint}) with tls.server_cert, no client certificate asked`,
  });
  if (port !== 443) {
    lines.push({
      status: 'warn',
      check: 'public_key_page',
      message: `Tesla fetches https://<your domain>${PUBLIC_KEY_PATH} on port 443: forward 443 to ${port}`,
    });
  }
  return lines;
}
