import { configPath } from '../../config/load.js';
import type { VehicleRecord } from '../../record/types.js';
import { DispatchError } from '../dispatch/errors.js';
import { InFlightRecords } from '../dispatch/in-flight.js';
import { encodeTeslaMessage, teslaMessage } from '../dispatch/proto.js';
import { teslaJson } from '../dispatch/json.js';
import { DispatchTally, type TalliedProducer } from '../dispatch/tally.js';
import { redisSubscriberSetKey, redisVinChannel } from '../dispatch/topic.js';
import type { Producer, ProducerFactory } from '../types.js';
import { RedisLink } from './link.js';
import { redisEndpoint } from './options.js';

/** Time given to replies still due at shutdown. */
const CLOSE_MS = 1000;

/** The record's value as Tesla's server sends it: protobuf, or its JSON with transmit_decoded_records. */
export function redisValue(record: VehicleRecord, decoded: boolean): Buffer {
  const m = teslaMessage(record);
  if (decoded) return Buffer.from(teslaJson(m), 'utf8');
  const bytes = encodeTeslaMessage(m);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * The redis producer, Tesla's redis dispatcher here: the record's message PUBLISHed on its VIN
 * channel and/or on the live channels of its subscriber set. Resolved once Redis answered every
 * PUBLISH (Tesla's ack point too); refused at once while Redis is unreachable or when
 * `max_in_flight` records wait (the vehicle resends), so a Redis that is down or slow holds only
 * the records routed to it.
 */
export const createRedisProducer: ProducerFactory = ({ name, config, logger }) => {
  const cfg = config.redis;
  if (!cfg) throw new Error('redis is routed but the redis block is missing');
  const log = logger.child({ producer: name });
  const ep = redisEndpoint(cfg, (p) => configPath(config, p));
  const tally = new DispatchTally();
  const link = new RedisLink(ep, log, tally);
  const inFlight = new InFlightRecords(cfg.max_in_flight, ep.publishTimeoutMs, tally);
  const decoded = config.transmit_decoded_records;
  const ns = config.namespace;
  const prefix = cfg.subscriber_set_prefix;

  const failure = (err: unknown): DispatchError =>
    err instanceof DispatchError
      ? err
      : new DispatchError(link.up ? 'publish_failed' : 'connection_lost', `redis: ${(err as Error)?.message ?? err}`, { cause: err });

  /** Tesla's channels for the record: live subscriber channels first, then the VIN channel. */
  const channels = async (record: VehicleRecord): Promise<string[]> => {
    const out: string[] = [];
    if (prefix) {
      const setKey = redisSubscriberSetKey(prefix, ns, record.type, record.vin);
      const now = Math.floor(Date.now() / 1000);
      await link.commands.zRemRangeByScore(setKey, '-inf', `(${now}`);
      out.push(...(await link.commands.zRange(setKey, 0, -1)));
    }
    if (cfg.publish_vin_topics) out.push(redisVinChannel(ns, record.type, record.vin));
    return out;
  };

  const publish = async (record: VehicleRecord): Promise<void> => {
    try {
      const value = redisValue(record, decoded);
      const to = await channels(record);
      await Promise.all(to.map((c) => link.commands.publish(c, value)));
      if (to.length) tally.recordSent(record.type, value.length * to.length, to.length);
    } catch (err) {
      throw failure(err);
    }
  };

  const producer: Producer & TalliedProducer = {
    name,
    tally,
    connected: () => link.up,
    // Every record is answered by its deadline (InFlightRecords): no guard timer is needed.
    selfTimed: true,
    produce(record) {
      if (!link.up) {
        const err = new DispatchError('broker_unavailable', 'redis: not connected');
        tally.recordFailed(err.code);
        return Promise.reject(err);
      }
      return inFlight
        .run(() => publish(record))
        .catch((err: unknown) => {
          tally.recordFailed((err as DispatchError).code ?? 'publish_failed');
          throw err;
        });
    },
    ready: () => link.up,
    start: () => link.start(),
    async close() {
      await link.close(CLOSE_MS);
      inFlight.clear();
    },
  };
  return producer;
};
