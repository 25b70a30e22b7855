import { configPath } from '../../config/load.js';
import { BatchSender } from '../batches.js';
import { batchedProducer } from '../dispatch/batched.js';
import { dispatchMessage, DispatchError, DispatchTally, dispatchTopic, InFlightRecords } from '../dispatch/index.js';
import type { ProducerFactory } from '../types.js';
import { KafkaLink, type KafkaMessage } from './link.js';
import { kafkaSettingsFrom, unusedKafkaKeys } from './options.js';

/** Bytes a message takes in a produce request besides key, value and headers (record framing). */
const RECORD_OVERHEAD = 64;

type Queued = KafkaMessage & { type: string };

function sizeOf(m: KafkaMessage): number {
  let n = RECORD_OVERHEAD + m.key.length + m.value.length;
  for (const k in m.headers) n += k.length + m.headers[k].length + 4;
  return n;
}

/**
 * The kafka producer, Tesla's kafka dispatcher here: each record to topic `<namespace>_<type>`,
 * keyed by VIN, with Tesla's headers and value, in the partition librdkafka would pick. A record
 * is taken once the cluster acknowledged it with the configured acks (all unless `kafka.acks`
 * says otherwise): the delivery report Tesla's server acks on. Records are batched into produce
 * requests (linger.ms, batch.num.messages, batch.size); at most queue.buffering.max.messages are
 * held, each answered by the record deadline.
 */
export const createKafkaProducer: ProducerFactory = ({ name, config, logger }) => {
  const log = logger.child({ producer: name });
  const raw = config.kafka ?? {};
  const s = kafkaSettingsFrom(raw, (p) => configPath(config, p));
  const unused = unusedKafkaKeys(raw);
  if (unused.length) log.warn({ event: 'kafka_keys_unused', keys: unused }, 'kafka keys this producer does not use');
  const tally = new DispatchTally();
  const link = new KafkaLink(s, log, tally);
  const inFlight = new InFlightRecords(s.maxHeld, config.mqtt.publish_timeout_ms, tally);
  const batches = new BatchSender<Queued>({
    batchMax: s.batchMax,
    batchBytes: s.batchBytes,
    sizeOf,
    lingerMs: s.lingerMs,
    maxSends: s.maxSends,
    send: async (batch) => {
      try {
        await link.send(batch);
      } catch (err) {
        throw new DispatchError('broker_unavailable', `kafka: the cluster did not take the record: ${(err as Error).message}`, { cause: err });
      }
      for (const m of batch) tally.recordSent(m.type, m.value.length);
    },
  });
  const decoded = config.transmit_decoded_records;
  return batchedProducer({
    name,
    kind: 'kafka',
    server: 'the cluster',
    tally,
    link,
    inFlight,
    batches,
    encode: (record) => {
      const m = dispatchMessage(record, { decoded });
      return {
        type: record.type,
        topic: dispatchTopic(config.namespace, record.type),
        key: Buffer.from(m.key),
        value: Buffer.from(m.value.buffer, m.value.byteOffset, m.value.byteLength),
        headers: m.headers,
      };
    },
    // librdkafka refuses such a message locally (MSG_SIZE_TOO_LARGE): no resend can help.
    tooLarge: (m) => (sizeOf(m) > s.messageMaxBytes ? `the record is ${sizeOf(m)} bytes, over kafka.message.max.bytes (${s.messageMaxBytes})` : undefined),
    drainMs: Math.max(config.mqtt.disconnect_timeout_ms, 100),
  });
};
