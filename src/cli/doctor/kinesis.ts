/**
 * `check-config --online` for the kinesis producer: Tesla's start-up check (ListStreams), then
 * each stream a routed record type goes to must exist and be active.
 */
import { DescribeStreamSummaryCommand, ListStreamsCommand } from '@aws-sdk/client-kinesis';
import type { Config } from '../../config/types.js';
import { KinesisLink } from '../../producers/kinesis/link.js';
import { kinesisSettingsFrom } from '../../producers/kinesis/options.js';
import type { CheckLine } from '../../tls/check.js';
import { pino } from 'pino';

function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const slow = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms)));
  return Promise.race([p, slow]).finally(() => clearTimeout(timer));
}

export async function kinesisCheck(config: Config, capMs: number): Promise<CheckLine[]> {
  const types = Object.entries(config.records)
    .filter(([, names]) => names?.includes('kinesis'))
    .map(([type]) => type);
  if (types.length === 0) return [];
  // Connectivity records go wherever other records go unless records routes them itself.
  if (config.records.connectivity === undefined) types.push('connectivity');
  const s = kinesisSettingsFrom(config.kinesis ?? {}, config.namespace);
  const link = new KinesisLink({ ...s, maxAttempts: 1 }, pino({ level: 'silent' }));
  const at = s.endpoint ? `${s.endpoint} (kinesis.override_host)` : 'the AWS Kinesis endpoint';
  const lines: CheckLine[] = [];
  try {
    await within(link.client.send(new ListStreamsCommand({ Limit: 1 })), capMs);
    lines.push({ status: 'ok', check: 'kinesis', message: `${at} answered ListStreams` });
    for (const type of types) {
      const stream = s.streamOf(type);
      try {
        const d = await within(link.client.send(new DescribeStreamSummaryCommand({ StreamName: stream })), capMs);
        const status = d.StreamDescriptionSummary?.StreamStatus;
        lines.push({
          status: status === 'ACTIVE' || status === 'UPDATING' ? 'ok' : 'fail',
          check: 'kinesis',
          message: `stream ${stream} (record type ${type}) is ${status}`,
        });
      } catch (err) {
        const name = (err as { name?: string }).name;
        const why =
          name === 'ResourceNotFoundException'
            ? 'does not exist: create it, or map the record type to another stream in kinesis.streams'
            : (err as Error).message;
        lines.push({ status: 'fail', check: 'kinesis', message: `stream ${stream} (record type ${type}) ${why}` });
      }
    }
  } catch (err) {
    lines.push({ status: 'fail', check: 'kinesis', message: `${at} is unreachable or refused the request: ${(err as Error).message}` });
  } finally {
    link.close();
  }
  return lines;
}
