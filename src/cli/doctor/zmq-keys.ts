/** check-config's lines for the zmq producer's CURVE key files: what serve reads at start. */
import { statSync } from 'node:fs';
import { configPath } from '../../config/load.js';
import type { Config } from '../../config/types.js';
import { isCoded } from '../../errors.js';
import { readAllowedKeys, readServerKey } from '../../producers/zmq/keys.js';
import type { CheckLine } from '../../tls/check.js';

function failLine(err: unknown): CheckLine {
  if (isCoded(err, 'zmq_key_invalid')) return { status: 'fail', check: 'zmq_curve', message: `${err.message} [${err.code}]` };
  throw err;
}

export function zmqKeyChecks(config: Config): CheckLine[] {
  const z = config.zmq;
  const routed = Object.values(config.records).some((names) => names?.includes('zmq')) && !('zmq' in config.producers);
  if (!z || !routed) return [];
  if (!z.server_key_json_path) {
    return z.allowed_public_keys_json_path
      ? [
          {
            status: 'warn',
            check: 'zmq_curve',
            message: 'zmq.allowed_public_keys_json_path has no effect without zmq.server_key_json_path: subscribers connect without CURVE',
          },
        ]
      : [];
  }
  const lines: CheckLine[] = [];
  try {
    const path = configPath(config, z.server_key_json_path);
    const key = readServerKey(path);
    lines.push({ status: 'ok', check: 'zmq_curve', message: `${z.server_key_json_path}: CURVE key pair; subscribers connect with server key ${key.public}` });
    const mode = statSync(path).mode & 0o777;
    if (mode & 0o077) {
      lines.push({
        status: 'warn',
        check: 'zmq_curve',
        message: `${z.server_key_json_path} holds the secret key and is readable by others (mode 0${mode.toString(8)}): chmod 600 it`,
      });
    }
  } catch (err) {
    lines.push(failLine(err));
  }
  if (!z.allowed_public_keys_json_path) {
    lines.push({ status: 'ok', check: 'zmq_curve', message: 'no zmq.allowed_public_keys_json_path: any subscriber that knows the server key may connect' });
    return lines;
  }
  try {
    const allowed = readAllowedKeys(configPath(config, z.allowed_public_keys_json_path));
    lines.push({
      status: allowed.size ? 'ok' : 'warn',
      check: 'zmq_curve',
      message: `${z.allowed_public_keys_json_path}: ${allowed.size} subscriber key${allowed.size === 1 ? '' : 's'} allowed${allowed.size ? '' : ': every subscriber is refused'}`,
    });
  } catch (err) {
    lines.push(failLine(err));
  }
  return lines;
}
