import { Publisher, Router } from 'zeromq';
import { configPath } from '../../config/load.js';
import type { VehicleRecord } from '../../record/types.js';
import { DispatchError } from '../dispatch/errors.js';
import { InFlightRecords } from '../dispatch/in-flight.js';
import { encodeTeslaMessage, teslaMessage } from '../dispatch/proto.js';
import { teslaJson } from '../dispatch/json.js';
import { DispatchTally, type TalliedProducer } from '../dispatch/tally.js';
import { dispatchTopic } from '../dispatch/topic.js';
import type { Producer, ProducerFactory } from '../types.js';
import { readAllowedKeys, readServerKey } from './keys.js';
import { serveZap, ZAP_ENDPOINT } from './zap.js';

/** Records waiting for the socket at once; a PUB socket takes a message at once, so this is only reached when it is stuck. */
const MAX_IN_FLIGHT = 10_000;
/** A send the socket has not taken by then fails the record (it never blocks without no-drop). */
const SEND_TIMEOUT_MS = 2500;

function zmqValue(record: VehicleRecord, decoded: boolean): Buffer {
  const m = teslaMessage(record);
  if (decoded) return Buffer.from(teslaJson(m), 'utf8');
  const bytes = encodeTeslaMessage(m);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * The zmq producer, Tesla's zmq dispatcher here: a PUB socket bound to `zmq.addr` sends each
 * record as [topic, value]. ZeroMQ reports no delivery: a record is resolved once the socket took
 * it (queued for the subscribers connected then; with none, ZeroMQ discards it, as Tesla's does).
 * The socket is bound when the producer is made, so a taken address fails the start.
 */
export const createZmqProducer: ProducerFactory = async ({ name, config, logger }) => {
  const cfg = config.zmq;
  if (!cfg?.addr) throw new Error('zmq is routed but zmq.addr is missing');
  const log = logger.child({ producer: name });
  // Both files are read before any socket exists: a bad one fails the start with nothing to undo.
  const key = cfg.server_key_json_path ? readServerKey(configPath(config, cfg.server_key_json_path)) : undefined;
  const allowed = key && cfg.allowed_public_keys_json_path ? readAllowedKeys(configPath(config, cfg.allowed_public_keys_json_path)) : undefined;
  const sock = new Publisher({ linger: 0 });
  let zap: Router | undefined;
  if (key) {
    // Without a ZAP handler libzmq lets in any CURVE client that knows the server key.
    if (allowed) {
      zap = new Router();
      try {
        await zap.bind(ZAP_ENDPOINT);
      } catch (err) {
        zap.close();
        sock.close();
        throw new Error(`zmq: cannot start the allow-list check at ${ZAP_ENDPOINT}: ${(err as Error).message}`, { cause: err });
      }
      void serveZap(zap, allowed, log);
    }
    sock.curveServer = true;
    sock.curveSecretKey = key.secret;
  }
  if (cfg.verbose) {
    for (const type of [
      'bind',
      'accept',
      'disconnect',
      'handshake',
      'handshake:error:auth',
      'handshake:error:protocol',
      'handshake:error:other',
      'close',
    ] as const) {
      sock.events.on(type, (e) => {
        // Handshake failures carry why (e.g. ERR_ZMTP_MECHANISM_MISMATCH: a subscriber without CURVE).
        const error = (e as { error?: { code?: string } }).error?.code;
        log.debug({ event: 'zmq_socket_event', type: e.type, address: (e as { address?: string }).address, error }, 'ZeroMQ socket event');
      });
    }
  }
  try {
    await sock.bind(cfg.addr);
  } catch (err) {
    sock.close();
    zap?.close();
    throw new Error(`zmq: cannot bind ${cfg.addr}: ${(err as Error).message}`, { cause: err });
  }
  log.info({ event: 'zmq_bound', addr: cfg.addr, curve: Boolean(key), server_public_key: key?.public, allowed_keys: allowed?.size }, 'ZeroMQ PUB socket bound');

  const tally = new DispatchTally();
  const inFlight = new InFlightRecords(MAX_IN_FLIGHT, SEND_TIMEOUT_MS, tally);
  const decoded = config.transmit_decoded_records;
  const ns = config.namespace;
  let open = true;
  /** One send at a time: zeromq refuses a second while one waits. */
  let pending: Promise<void> = Promise.resolve();
  let waiting = 0;

  const send = (topic: string, value: Buffer): Promise<void> => {
    if (waiting === 0) {
      const p = sock.send([topic, value]);
      waiting++;
      pending = p.finally(() => waiting--);
      return p;
    }
    waiting++;
    const p = pending.catch(() => {}).then(() => sock.send([topic, value]));
    pending = p.finally(() => waiting--);
    return p;
  };

  const producer: Producer & TalliedProducer = {
    name,
    tally,
    connected: () => open,
    selfTimed: true,
    produce(record) {
      if (!open) return Promise.reject(new DispatchError('shutting_down', 'zmq: socket closed'));
      let value: Buffer;
      try {
        value = zmqValue(record, decoded);
      } catch (err) {
        return Promise.reject(err);
      }
      const topic = dispatchTopic(ns, record.type);
      return inFlight
        .run(() => send(topic, value))
        .then(
          () => tally.recordSent(record.type, value.length),
          (err: unknown) => {
            const e = err instanceof DispatchError ? err : new DispatchError('publish_failed', `zmq: ${(err as Error)?.message ?? err}`, { cause: err });
            tally.recordFailed(e.code);
            throw e;
          },
        );
    },
    ready: () => open,
    async close() {
      open = false;
      inFlight.clear();
      sock.close();
      zap?.close();
    },
  };
  return producer;
};
