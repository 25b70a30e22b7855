import { configPath } from '../../config/load.js';
import type { VehicleRecord } from '../../record/types.js';
import { BatchSender } from '../batches.js';
import { dispatchMessage, DispatchError, DispatchTally, dispatchTopic, InFlightRecords, type TalliedProducer } from '../dispatch/index.js';
import { InvalidRecord, type Producer, type ProducerFactory } from '../types.js';
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
  const refuse = (err: DispatchError | InvalidRecord) => {
    tally.recordFailed(err instanceof DispatchError ? err.code : 'record_invalid');
    return Promise.reject(err);
  };
  const producer: Producer & TalliedProducer & { link: KafkaLink } = {
    name,
    tally,
    link,
    connected: () => link.up,
    // Every record is answered by its deadline (InFlightRecords): no guard timer is needed.
    selfTimed: true,
    produce(record: VehicleRecord) {
      // Before the first connection, and while the cluster is down with a request already trying
      // it, nothing is held: the vehicle resends later.
      if (!link.connectedOnce() || (!link.up && tally.inFlight > 0)) {
        return refuse(new DispatchError('broker_unavailable', 'kafka: the cluster is not reachable'));
      }
      let msg: Queued;
      try {
        const m = dispatchMessage(record, { decoded });
        msg = { type: record.type, topic: dispatchTopic(config.namespace, record.type), key: Buffer.from(m.key), value: Buffer.from(m.value.buffer, m.value.byteOffset, m.value.byteLength), headers: m.headers };
      } catch (err) {
        return refuse(new InvalidRecord(`kafka: the record cannot be encoded: ${(err as Error).message}`, { cause: err }));
      }
      // librdkafka refuses such a message locally (MSG_SIZE_TOO_LARGE): no resend can help.
      if (sizeOf(msg) > s.messageMaxBytes) {
        return refuse(new InvalidRecord(`kafka: the record is ${sizeOf(msg)} bytes, over kafka.message.max.bytes (${s.messageMaxBytes})`));
      }
      return inFlight.run(() => batches.offer(msg)).catch((err: unknown) => {
        tally.recordFailed((err as DispatchError).code ?? 'publish_failed');
        throw err;
      });
    },
    start: () => link.start(),
    ready: () => link.up,
    async close() {
      batches.flush();
      const end = Date.now() + Math.max(config.mqtt.disconnect_timeout_ms, 100);
      while (tally.inFlight > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      batches.dropWaiting(new DispatchError('shutting_down', 'kafka: the server is shutting down'));
      inFlight.clear();
      await link.close();
    },
  };
  return producer;
};
