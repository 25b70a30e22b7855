import { kinesisStream } from '../dispatch/index.js';
import type { KinesisConfig } from './config.js';

export interface KinesisSettings {
  /** override_host: another Kinesis API server (LocalStack, kinesalite); the AWS endpoint otherwise. */
  endpoint?: string;
  /** Attempts of one request: Tesla's max_retries (default 1) plus the first. */
  maxAttempts: number;
  /** The stream of a record type, in Tesla's order: KINESIS_STREAM_<TYPE>, kinesis.streams, `<namespace>_<type>`. */
  streamOf(recordType: string): string;
}

/** Tesla's default when max_retries is absent. */
const TESLA_MAX_RETRIES = 1;

export function kinesisSettingsFrom(
  section: Partial<KinesisConfig>,
  namespace: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): KinesisSettings {
  const streams = section.streams ?? {};
  const byType = new Map<string, string>();
  return {
    endpoint: section.override_host ? section.override_host : undefined,
    maxAttempts: Math.max(0, section.max_retries ?? TESLA_MAX_RETRIES) + 1,
    streamOf(recordType) {
      let s = byType.get(recordType);
      if (s === undefined) byType.set(recordType, (s = kinesisStream(namespace, recordType, streams, env)));
      return s;
    },
  };
}
