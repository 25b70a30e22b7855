/**
 * Names Tesla's dispatchers publish under. Tesla's server builds them from `namespace` and the
 * record type joined by `_`, with no check of either; an empty namespace gives `_V`.
 */

/** Kafka topic, ZMQ topic frame and default Kinesis stream of a record type (Tesla's BuildTopicName). */
export function dispatchTopic(namespace: string, recordType: string): string {
  return `${namespace}_${recordType}`;
}

/**
 * Redis channel of one vehicle's records of one type: the topic, `_`, then the VIN in braces, so
 * that in cluster mode every channel and set key of a VIN hashes to one slot.
 */
export function redisVinChannel(namespace: string, recordType: string, vin: string): string {
  return `${dispatchTopic(namespace, recordType)}_{${vin}}`;
}

/** Redis sorted set listing the subscriber channels of one vehicle's records of one type. */
export function redisSubscriberSetKey(prefix: string, namespace: string, recordType: string, vin: string): string {
  return `${prefix}_${redisVinChannel(namespace, recordType, vin)}`;
}

/**
 * Kinesis stream of a record type, in Tesla's order of precedence: the environment variable
 * `KINESIS_STREAM_<TYPE>` (type upper-cased), then `kinesis.streams[type]`, then the topic name.
 * An empty value falls through to the next.
 */
export function kinesisStream(
  namespace: string,
  recordType: string,
  streams: Readonly<Record<string, string>> = {},
  env: Readonly<Record<string, string | undefined>> = {},
): string {
  const fromEnv = env[`KINESIS_STREAM_${recordType.toUpperCase()}`];
  if (fromEnv) return fromEnv;
  const configured = Object.prototype.hasOwnProperty.call(streams, recordType) ? streams[recordType] : undefined;
  if (configured) return configured;
  return dispatchTopic(namespace, recordType);
}
