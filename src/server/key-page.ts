import type { Logger } from 'pino';
import { configPath } from '../config/load.js';
import type { Config } from '../config/types.js';
import { isCoded } from '../errors.js';
import { publicKeyUrl, readAppKey, type AppKey } from '../tesla/app-key.js';
import { startPublicKeyPage, type PublicKeyPage } from '../tesla/key-page.js';
import { bindError, StartError } from './start-error.js';

/** tesla.private_key read at start: a key that is not one stops the start with the reason. */
export function appKeyAtStart(config: Config, logger: Logger): AppKey | undefined {
  if (!config.tesla.private_key) return undefined;
  let key: AppKey;
  try {
    key = readAppKey(configPath(config, config.tesla.private_key));
  } catch (err) {
    if (isCoded(err)) throw new StartError(`tesla.private_key: ${err.message} [${err.code}]`, { cause: err });
    throw err;
  }
  logger.info({ event: 'tesla_key', fingerprint: key.fingerprint }, `application key: P-256, fingerprint ${key.fingerprint}`);
  return key;
}

/** The public key page when tesla.public_key_port is set, with the vehicle listener's certificate. */
export async function startKeyPageIfConfigured(
  config: Config,
  key: AppKey | undefined,
  tls: { cert: string; key: string },
  logger: Logger,
): Promise<PublicKeyPage | undefined> {
  const port = config.tesla.public_key_port;
  if (port === undefined || !key) return undefined;
  const page = await startPublicKeyPage({ host: config.host, port, cert: tls.cert, key: tls.key, publicPem: key.publicPem }).catch((err: unknown) => {
    throw bindError(err, 'tesla.public_key_port', config.host, port);
  });
  logger.info(
    { event: 'public_key_page_listening', host: config.host, port: page.port, fingerprint: key.fingerprint },
    `public key page: ${publicKeyUrl(config.host, page.port)} (fingerprint ${key.fingerprint})`,
  );
  return page;
}
