import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { configPath } from '../config/load.js';
import type { Config } from '../config/types.js';
import { splitPem, teslaCaDir } from '../tls/ca-bundle.js';

interface ClientCaPool {
  certs: string[];
  /** Where each part came from, for logs and check-config. */
  sources: { file: string; count: number }[];
}

/**
 * The client-CA pool of docs/protocol.md §1.2: Tesla's vehicle bundle (production, or engineering with
 * use_default_eng_ca) unless trust_tesla_ca is false, plus every certificate of tls.ca_file.
 * Nothing from the system store.
 */
function clientCaPool(config: Config): ClientCaPool {
  const certs: string[] = [];
  const sources: ClientCaPool['sources'] = [];
  const add = (file: string) => {
    const parts = splitPem(readFileSync(file, 'utf8'));
    if (parts.length === 0) throw new Error(`${file} holds no PEM certificate`);
    certs.push(...parts);
    sources.push({ file, count: parts.length });
  };
  if (config.tls.trust_tesla_ca) add(join(teslaCaDir(), config.use_default_eng_ca ? 'engineering.pem' : 'production.pem'));
  if (config.tls.ca_file) add(configPath(config, config.tls.ca_file));
  return { certs, sources };
}

export interface ServerTlsMaterial {
  cert: string;
  key: string;
  ca: string[];
  pool: ClientCaPool;
}

export function serverTlsMaterial(config: Config): ServerTlsMaterial {
  const pool = clientCaPool(config);
  return {
    cert: readFileSync(configPath(config, config.tls.server_cert), 'utf8'),
    key: readFileSync(configPath(config, config.tls.server_key), 'utf8'),
    ca: pool.certs,
    pool,
  };
}
