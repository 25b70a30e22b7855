import type { VehicleRecord } from '../../record/types.js';
import { dispatchHeaders } from './headers.js';
import { teslaJson } from './json.js';
import { encodeTeslaMessage, teslaMessage } from './proto.js';

export interface DispatchOptions {
  /** Tesla's `transmit_decoded_records`: the value is Tesla's JSON of the record instead of protobuf. */
  decoded?: boolean;
  /** Clock for `receivedat` when the record carries no receivedAt (records made by hand). */
  now?: () => number;
}

/** What a Tesla dispatcher sends for one record. */
export interface DispatchMessage {
  /** Partition key (Kafka key, Kinesis partition key): the VIN. */
  key: string;
  /** Tesla's record metadata: Kafka headers. */
  headers: Record<string, string>;
  /** The record's protobuf re-encoded as Tesla's server does, or its JSON (UTF-8) when decoded. */
  value: Uint8Array;
}

const utf8 = new TextEncoder();

export function dispatchMessage(record: VehicleRecord, opts: DispatchOptions = {}): DispatchMessage {
  const m = teslaMessage(record);
  const value = opts.decoded ? utf8.encode(teslaJson(m)) : encodeTeslaMessage(m);
  return { key: record.vin, headers: dispatchHeaders(record, opts.now), value };
}
