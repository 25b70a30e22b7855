import { defaultPlanOptions, planPublishes } from '../publish/plan.js';
import type { ProducerFactory } from './types.js';

/** One JSON log line per record, with the publishes it would make: for trying things out. */
export const createLoggerProducer: ProducerFactory = ({ name, config, logger }) => {
  const log = logger.child({ producer: name });
  const plan = { ...defaultPlanOptions(config.mqtt.topic_base), payloadFormat: config.mqtt.payload_format };
  return {
    name,
    selfTimed: true,
    async produce(record) {
      const fields: Record<string, string> = {};
      for (const p of planPublishes(record, plan)) fields[p.topic] = p.payload;
      log.info({ event: 'record', vin: record.vin, txid: record.txid, record_type: record.type, fields }, 'record');
    },
    async close() {},
  };
};
