import { BatchSender } from '../batches.js';
import { batchedProducer } from '../dispatch/batched.js';
import { dispatchMessage, DispatchError, DispatchTally, InFlightRecords } from '../dispatch/index.js';
import type { ProducerFactory } from '../types.js';
import { KinesisLink, type KinesisEntry } from './link.js';
import { kinesisSettingsFrom } from './options.js';

/** Kinesis API limits of PutRecords: records and bytes (data plus partition keys) per request, per record. */
const PUT_RECORDS_MAX = 500;
const PUT_RECORDS_BYTES = 5 * 1024 * 1024;
const RECORD_BYTES = 1024 * 1024;
/** Records held at once (waiting or being put): a bound on memory while Kinesis is slow. */
const MAX_IN_FLIGHT = 20_000;
const LINGER_MS = 5;
const MAX_REQUESTS = 4;

type Queued = KinesisEntry & { type: string };

const sizeOf = (e: Queued) => e.data.length + Buffer.byteLength(e.partitionKey);

/**
 * The kinesis producer, Tesla's kinesis dispatcher here: each record to its stream (Tesla's
 * mapping), partition key the VIN, data Tesla's value. Records go out in PutRecords requests; a
 * record is taken when its entry in the response carries a sequence number, and one whose entry
 * has an error code is not acked (the vehicle resends it).
 */
export const createKinesisProducer: ProducerFactory = ({ name, config, logger }) => {
  const log = logger.child({ producer: name });
  const settings = kinesisSettingsFrom(config.kinesis ?? {}, config.namespace);
  const tally = new DispatchTally();
  const link = new KinesisLink(settings, log, tally);
  const inFlight = new InFlightRecords(MAX_IN_FLIGHT, config.mqtt.publish_timeout_ms, tally);
  const putStream = async (stream: string, batch: readonly Queued[]): Promise<(Error | undefined)[]> => {
    let results;
    try {
      results = await link.put(stream, batch);
    } catch (err) {
      const failed = new DispatchError('broker_unavailable', `kinesis: the request failed: ${(err as Error).message}`, { cause: err });
      return batch.map(() => failed);
    }
    return batch.map((e, i) => {
      const r = results[i];
      if (r?.SequenceNumber && !r.ErrorCode) {
        tally.recordSent(e.type, e.data.length);
        return undefined;
      }
      return new DispatchError('publish_failed', `kinesis: the record failed: ${r?.ErrorCode ?? 'no result'} ${r?.ErrorMessage ?? ''}`.trim());
    });
  };
  const batches = new BatchSender<Queued>({
    batchMax: PUT_RECORDS_MAX,
    batchBytes: PUT_RECORDS_BYTES,
    sizeOf,
    lingerMs: LINGER_MS,
    maxSends: MAX_REQUESTS,
    // One PutRecords per stream in the batch, at once; outcomes back in the batch's order.
    send: async (batch) => {
      const byStream = new Map<string, number[]>();
      batch.forEach((e, i) => {
        let idx = byStream.get(e.stream);
        if (!idx) byStream.set(e.stream, (idx = []));
        idx.push(i);
      });
      const outcomes: (Error | undefined)[] = new Array<Error | undefined>(batch.length);
      await Promise.all(
        [...byStream].map(async ([stream, idx]) => {
          const got = await putStream(
            stream,
            idx.map((i) => batch[i]),
          );
          idx.forEach((i, j) => (outcomes[i] = got[j]));
        }),
      );
      return outcomes;
    },
  });
  const decoded = config.transmit_decoded_records;
  return batchedProducer({
    name,
    kind: 'kinesis',
    server: 'the API',
    tally,
    link,
    inFlight,
    batches,
    encode: (record) => {
      const m = dispatchMessage(record, { decoded });
      return { type: record.type, stream: settings.streamOf(record.type), partitionKey: m.key, data: m.value };
    },
    // Kinesis refuses such a record whatever is retried.
    tooLarge: (e) => (sizeOf(e) > RECORD_BYTES ? `the record is ${sizeOf(e)} bytes, over the 1 MiB a Kinesis record may have` : undefined),
    drainMs: Math.max(config.mqtt.disconnect_timeout_ms, 100),
  });
};
