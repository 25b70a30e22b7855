/**
 * `check-config --online` for the kafka producer: the `kafka` section read as the producer reads
 * it, then one connection to the cluster with its settings, asking who its brokers are.
 */
import { Kafka, logLevel } from 'kafkajs';
import { configPath } from '../../config/load.js';
import type { Config } from '../../config/types.js';
import { kafkaFailureText } from '../../producers/kafka/failure.js';
import { kafkaSettingsFrom, unusedKafkaKeys, type KafkaSettings } from '../../producers/kafka/options.js';
import type { CheckLine } from '../../tls/check.js';

const routesTo = (config: Config, name: string) => Object.values(config.records).some((names) => names?.includes(name));

export async function kafkaCheck(config: Config, capMs: number): Promise<CheckLine[]> {
  if (!routesTo(config, 'kafka')) return [];
  const raw = config.kafka ?? {};
  let s: KafkaSettings;
  try {
    s = kafkaSettingsFrom(raw, (p) => configPath(config, p));
  } catch (err) {
    return [{ status: 'fail', check: 'kafka', message: (err as Error).message }];
  }
  const lines: CheckLine[] = [];
  const unused = unusedKafkaKeys(raw);
  if (unused.length) lines.push({ status: 'warn', check: 'kafka', message: `not used by this server's kafka producer: ${unused.join(', ')}` });
  const at = `${s.brokers.join(',')} (kafka.bootstrap.servers)`;
  const admin = new Kafka({
    clientId: `${s.clientId}-check`,
    brokers: s.brokers,
    ssl: s.ssl,
    sasl: s.sasl,
    connectionTimeout: Math.min(s.connectionTimeoutMs, capMs),
    requestTimeout: Math.min(s.requestTimeoutMs, capMs),
    retry: { retries: 0 },
    logLevel: logLevel.NOTHING,
  }).admin();
  let timer: NodeJS.Timeout | undefined;
  const slow = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${capMs / 1000} s`)), capMs)));
  try {
    const cluster = await Promise.race([admin.connect().then(() => admin.describeCluster()), slow]);
    lines.push({ status: 'ok', check: 'kafka', message: `${at} answered: ${cluster.brokers.length} broker(s), acks=${s.acks === -1 ? 'all' : s.acks}` });
  } catch (err) {
    lines.push({ status: 'fail', check: 'kafka', message: `${at} is unreachable: ${kafkaFailureText(err)}` });
  } finally {
    clearTimeout(timer);
    await admin.disconnect().catch(() => {});
  }
  return lines;
}
