import { KinesisClient, ListStreamsCommand, PutRecordsCommand, type PutRecordsResultEntry } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { Logger } from 'pino';
import { Backoff } from '../../backoff.js';
import type { KinesisSettings } from './options.js';
import type { DispatchTally } from '../dispatch/index.js';
import { LinkHealth } from '../dispatch/link-health.js';
import { retryStart, type StartRetry } from '../dispatch/retry-start.js';

/** One record for PutRecords. */
export interface KinesisEntry {
  stream: string;
  partitionKey: string;
  data: Uint8Array;
}

const CONNECT_MS = 3000;
const REQUEST_MS = 10_000;
/** Waits between start-up probes while the API server does not answer: 100 ms doubling to 5 s, ±20 %. */
const PROBE_RETRY_FIRST_MS = 100;
const PROBE_RETRY_MAX_MS = 5000;

/**
 * The producer's client of the Kinesis API (the AWS SDK v3 client: region, credentials and
 * endpoint resolved as AWS tools do, from the environment and ~/.aws). HTTP/1.1, as Tesla's
 * server talks to Kinesis and as every Kinesis stand-in speaks. `up` once the API answered;
 * down while a request fails; a request that succeeds brings it up again.
 */
export class KinesisLink {
  readonly client: KinesisClient;
  private readonly health: LinkHealth;
  private probing: StartRetry | undefined;
  private closed = false;

  constructor(
    readonly s: KinesisSettings,
    private readonly log: Logger,
    tally?: DispatchTally,
  ) {
    this.health = new LinkHealth(
      log,
      {
        available: { event: 'kinesis_available', msg: 'Kinesis takes records again' },
        unavailable: { event: 'kinesis_unavailable', msg: 'Kinesis did not take a request; records wait until it does' },
      },
      tally,
    );
    this.client = new KinesisClient({
      endpoint: s.endpoint,
      maxAttempts: s.maxAttempts,
      requestHandler: new NodeHttpHandler({ connectionTimeout: CONNECT_MS, requestTimeout: REQUEST_MS }),
    });
  }

  /** Tesla's start-up check (ListStreams, one stream), tried again with backoff until it answers. */
  start(): void {
    if (this.probing || this.closed) return;
    const backoff = new Backoff(PROBE_RETRY_FIRST_MS, PROBE_RETRY_MAX_MS);
    this.probing = retryStart(
      () => this.client.send(new ListStreamsCommand({ Limit: 1 })),
      backoff,
      () => {
        this.log.info({ event: 'kinesis_connected', endpoint: this.s.endpoint ?? 'aws' }, 'the Kinesis API answers');
        this.health.markUp();
      },
      (err, wait) =>
        this.log.warn(
          { event: 'kinesis_connect_failed', endpoint: this.s.endpoint ?? 'aws', err: (err as Error).message, retry_ms: wait },
          'the Kinesis API does not answer',
        ),
    );
  }

  get up(): boolean {
    return this.health.up;
  }

  /** Whether the API answered once: before that, records are refused without trying. */
  answered(): boolean {
    return this.health.answered();
  }

  /** One PutRecords to one stream: the result entry of each record, in order. */
  async put(stream: string, entries: readonly KinesisEntry[]): Promise<PutRecordsResultEntry[]> {
    try {
      const out = await this.client.send(
        new PutRecordsCommand({ StreamName: stream, Records: entries.map((e) => ({ Data: e.data, PartitionKey: e.partitionKey })) }),
      );
      this.health.markUp();
      return out.Records ?? [];
    } catch (err) {
      if (!this.closed) this.health.markDown(err as Error);
      throw err;
    }
  }

  close(): void {
    this.closed = true;
    this.probing?.cancel();
    this.client.destroy();
  }
}
