/** The `kinesis` block: Tesla's keys with Tesla's meaning (config/config.go, datastore/kinesis). */

const tesla = 'tesla' as const;

export const kinesisSchema = {
  type: 'object',
  additionalProperties: false,
  description:
    "The kinesis producer (Tesla's): each record is put on its record type's stream with the VIN as partition key. " +
    'Stream names: the environment variable KINESIS_STREAM_<RECORD TYPE>, else streams, else `<namespace>_<record type>`. Needed when records route to kinesis.',
  'x-origin': tesla,
  properties: {
    max_retries: { type: 'integer', minimum: 0, default: 1, description: 'Retries of a failed request by the AWS client.', 'x-origin': tesla },
    override_host: { type: 'string', description: 'Endpoint URL instead of AWS\'s (e.g. a local Kinesis API server); "" means AWS.', 'x-origin': tesla },
    streams: {
      type: 'object',
      additionalProperties: { type: 'string' },
      description: 'Record type → stream name.',
      'x-allowed': 'an object mapping record types to stream names',
      'x-origin': tesla,
    },
  },
} as const;

export interface KinesisConfig {
  max_retries: number;
  override_host?: string;
  streams?: Record<string, string>;
}
