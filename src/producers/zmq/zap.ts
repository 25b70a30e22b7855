import type { Logger } from 'pino';
import type { Router } from 'zeromq';
import { z85Encode } from './z85.js';

/** Where libzmq asks who may connect (ZAP, RFC 27), in the process's ZeroMQ context. */
export const ZAP_ENDPOINT = 'inproc://zeromq.zap.01';

/**
 * Answers libzmq's ZAP requests: a CURVE client whose public key is in `allowed` gets 200,
 * everyone else 400. Runs until the router closes.
 */
export async function serveZap(router: Router, allowed: ReadonlySet<string>, log: Logger): Promise<void> {
  try {
    for await (const frames of router) {
      // [routing id, "", version, request id, domain, address, identity, mechanism, credentials...]
      const [id, empty, version, requestId, , address, , mechanism, key] = frames;
      const client = key && key.length === 32 ? z85Encode(key) : '';
      const ok = mechanism?.toString() === 'CURVE' && allowed.has(client);
      if (!ok)
        log.warn(
          { event: 'zmq_subscriber_refused', address: address?.toString(), public_key: client },
          'a ZeroMQ subscriber whose key is not allowed was refused',
        );
      await router.send([id, empty, version, requestId, ok ? '200' : '400', ok ? 'OK' : 'key not allowed', '', '']);
    }
  } catch (err) {
    if (!router.closed) log.warn({ event: 'zmq_zap_error', err: (err as Error).message }, 'ZeroMQ authentication handler stopped');
  }
}
