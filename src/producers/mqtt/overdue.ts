import type { VehicleRecord } from '../../record/types.js';
import type { Batch } from './batch.js';

/**
 * Records answered "not yet" at their deadline whose publishes are still in flight, by vehicle,
 * record type and txid, so the vehicle's resend waits on them instead of publishing every field
 * again: without this a slow broker gets more work the slower it is (congestion collapse). An
 * entry leaves when its publishes settle, so this holds no more than the link does.
 */
export class OverdueRecords {
  private readonly byKey = new Map<string, { payload: Uint8Array; batch: Batch }>();

  size(): number {
    return this.byKey.size;
  }

  /**
   * Keeps `batch` for the record's resend; the promise settles with its publishes (`lost` is
   * called first if they fail after all: the broker connection went).
   */
  add(record: VehicleRecord, batch: Batch, lost?: () => void): Promise<void> {
    const key = record.txid === '' ? undefined : keyOf(record); // without a txid no resend matches
    const entry = { payload: record.payload, batch };
    if (key !== undefined) this.byKey.set(key, entry);
    const completion = new Promise<void>((resolve, reject) => {
      batch.onSettled = (err) => {
        if (key !== undefined && this.byKey.get(key) === entry) this.byKey.delete(key);
        if (!err) return resolve();
        lost?.();
        reject(err);
      };
    });
    completion.catch(() => {}); // nobody need listen
    return completion;
  }

  /** The batch of the same record (same key and payload bytes), still unsettled. */
  find(record: VehicleRecord): Batch | undefined {
    if (record.txid === '') return undefined;
    const e = this.byKey.get(keyOf(record));
    return e && !e.batch.settled && Buffer.compare(e.payload, record.payload) === 0 ? e.batch : undefined;
  }
}

function keyOf(r: VehicleRecord): string {
  return `${r.vin}\u0000${r.type}\u0000${r.txid}`;
}
