import { Kafka, logLevel, Partitioners, type LogEntry, type Producer as KafkaClient } from 'kafkajs';
import type { Logger } from 'pino';
import { Backoff } from '../../backoff.js';
import { kafkaFailureText } from './failure.js';
import { consistentPartition } from './partition.js';
import type { KafkaSettings } from './options.js';
import type { DispatchTally } from '../dispatch/index.js';
import { LinkHealth } from '../dispatch/link-health.js';
import { retryStart, type StartRetry } from '../dispatch/retry-start.js';

/** One message as Tesla's dispatcher builds it: topic, the VIN as key, the value, the record's metadata as headers. */
export interface KafkaMessage {
  topic: string;
  key: Buffer;
  value: Buffer;
  headers: Record<string, string>;
}

/** Longest wait between connection attempts while no broker answers (unless retry.backoff.ms is longer). */
const CONNECT_RETRY_MAX_MS = 5000;

/**
 * kafkajs's warnings and errors, at debug: the link logs what an operator needs (up, down, why).
 * Its own debug lines (one per request) are never made: they cost CPU per batch.
 */
function logCreatorFor(log: Logger) {
  return () =>
    ({ namespace, log: entry }: LogEntry) => {
      const { message, ...extra } = entry;
      log.debug({ event: 'kafka_client', namespace, ...extra }, message);
    };
}

/**
 * The producer's connection to the Kafka cluster (kafkajs: pure JavaScript, no native build).
 * `up` once a connection was made or a send succeeded; down when a send fails; a later send that
 * succeeds brings it up again (sends are the probe; the client reconnects by itself).
 */
export class KafkaLink {
  private readonly health: LinkHealth;
  private readonly client: KafkaClient;
  private connecting: StartRetry | undefined;
  private closed = false;
  private started = false;

  constructor(
    private readonly s: KafkaSettings,
    private readonly log: Logger,
    tally?: DispatchTally,
  ) {
    this.health = new LinkHealth(
      log,
      {
        available: { event: 'kafka_available', msg: 'the Kafka cluster takes records again' },
        unavailable: { event: 'kafka_unavailable', msg: 'the Kafka cluster did not take a batch; records wait until it does' },
        describe: kafkaFailureText,
      },
      tally,
    );
    const kafka = new Kafka({
      clientId: s.clientId,
      brokers: s.brokers,
      ssl: s.ssl,
      sasl: s.sasl,
      connectionTimeout: s.connectionTimeoutMs,
      requestTimeout: s.requestTimeoutMs,
      retry: { retries: s.retries, initialRetryTime: s.retryBackoffMs, maxRetryTime: s.retryBackoffMaxMs },
      logLevel: logLevel.WARN,
      logCreator: logCreatorFor(log),
    });
    const partitioner =
      s.partitioner === 'murmur2_random'
        ? Partitioners.DefaultPartitioner
        : () =>
            ({ partitionMetadata, message }: { partitionMetadata: unknown[]; message: { key?: Buffer | string | null } }) =>
              consistentPartition(Buffer.from(message.key ?? ''), partitionMetadata.length);
    this.client = kafka.producer({
      createPartitioner: partitioner,
      allowAutoTopicCreation: true,
      idempotent: s.idempotent,
      maxInFlightRequests: s.idempotent ? 1 : undefined,
      metadataMaxAge: s.metadataMaxAgeMs,
      retry: { retries: s.retries, initialRetryTime: s.retryBackoffMs, maxRetryTime: s.retryBackoffMaxMs },
    });
  }

  /** Connects, trying again with backoff until it works or the link closes. */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    // retry.backoff.ms doubling, ±20% so servers that lost the same cluster do not come back in step.
    const backoff = new Backoff(this.s.retryBackoffMs, Math.max(CONNECT_RETRY_MAX_MS, this.s.retryBackoffMs));
    this.connecting = retryStart(
      () => this.client.connect(),
      backoff,
      () => {
        this.log.info({ event: 'kafka_connected', brokers: this.s.brokers.join(',') }, 'connected to the Kafka cluster');
        this.health.markUp();
      },
      (err, wait) =>
        this.log.warn(
          { event: 'kafka_connect_failed', brokers: this.s.brokers.join(','), err: kafkaFailureText(err), retry_ms: wait },
          'cannot connect to the Kafka cluster',
        ),
    );
  }

  get up(): boolean {
    return this.health.up;
  }

  /** Whether connect() or a send succeeded once: before that, sends are refused without trying. */
  answered(): boolean {
    return this.health.answered();
  }

  /** One batch to the cluster with the configured acks; resolves with the brokers' acknowledgement. */
  async send(batch: readonly KafkaMessage[]): Promise<void> {
    const byTopic = new Map<string, { key: Buffer; value: Buffer; headers: Record<string, string> }[]>();
    for (const m of batch) {
      let list = byTopic.get(m.topic);
      if (!list) byTopic.set(m.topic, (list = []));
      list.push({ key: m.key, value: m.value, headers: m.headers });
    }
    try {
      await this.client.sendBatch({
        acks: this.s.acks,
        compression: this.s.compression,
        timeout: this.s.requestTimeoutMs,
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
    } catch (err) {
      if (!this.closed) this.health.markDown(err as Error);
      throw err;
    }
    this.health.markUp();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.connecting?.cancel();
    await this.client.disconnect().catch(() => {});
  }
}
