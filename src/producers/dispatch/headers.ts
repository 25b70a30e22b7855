import type { VehicleRecord } from '../../record/types.js';

/**
 * The metadata Tesla's server attaches to a record (its Kafka headers), every value a string.
 * Tesla never fills in `timestamp` and `version`, so they are always "0". A connectivity record's
 * txid is its connection id there (the server makes its frame with that txid).
 */
export function dispatchHeaders(record: VehicleRecord, now: () => number = Date.now): Record<string, string> {
  const txid = record.type === 'connectivity' && record.txid === '' ? record.connectionId : record.txid;
  return {
    vin: record.vin,
    receivedat: String(record.receivedAt ?? now()),
    timestamp: '0',
    txid,
    txtype: record.type,
    version: '0',
    device_client_version: record.clientVersion ?? '',
  };
}
