/**
 * The `kafka` block: as in Tesla's server, librdkafka configuration properties by their own
 * names (`bootstrap.servers`, `queue.buffering.max.ms`, `compression.type`, …).
 */
export const kafkaSchema = {
  type: 'object',
  description:
    "The kafka producer (Tesla's): librdkafka configuration properties by name, e.g. bootstrap.servers. " +
    "Each record goes to the topic `<namespace>_<record type>`, keyed by VIN, with Tesla's headers. Needed when records route to kafka.",
  'x-allowed': 'an object of librdkafka properties (string, number or boolean values)',
  additionalProperties: { anyOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }] },
  'x-origin': 'tesla',
} as const;

export type KafkaConfig = Record<string, string | number | boolean>;
