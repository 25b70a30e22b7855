import { writeFileSync } from 'node:fs';
import { decodeRecord } from '../../src/record/decode.js';
import { defaultPlanOptions, planPublishes, type Qos } from '../../src/publish/plan.js';
import { vPayloadBytes } from './fields.js';

export interface BenchPublish {
  topic: string;
  payload: string;
}

/**
 * The publishes the server makes for one frame of each vehicle, computed with the server's own
 * decode and plan, so the baselines send exactly the same topics and payloads.
 */
export function serverPublishes(vins: string[], fields: number, topicBase: string, qos: Qos): BenchPublish[] {
  const o = defaultPlanOptions(topicBase);
  o.v = { qos, retain: false };
  const out: BenchPublish[] = [];
  for (const vin of vins) {
    const record = decodeRecord('V', vPayloadBytes(vin, fields), vin, 'bench');
    for (const p of planPublishes(record, o)) out.push({ topic: p.topic, payload: p.payload });
  }
  return out;
}

export function writePublishes(file: string, pubs: BenchPublish[]): void {
  writeFileSync(file, JSON.stringify(pubs));
}
