/**
 * Records being published, by vehicle, record type and txid, so that a vehicle's resend of a
 * frame still in flight joins it instead of publishing every field again. Without this, a broker
 * slower than the offered load turns timeouts into resends into more load (congestion collapse:
 * measured 5,813 duplicate fields and acks that never resumed). Bounded by the records in flight.
 */
export class PendingRecords {
  private readonly byKey = new Map<string, { payload: Uint8Array; settled: Promise<void> }>();

  /** The key of a frame; undefined when it has no txid to match a resend by. */
  static key(vin: string, recordType: string, txid: string): string | undefined {
    return txid === '' ? undefined : `${vin}\u0000${recordType}\u0000${txid}`;
  }

  /** The pending publish of the same frame (same key and payload bytes), to wait on instead. */
  join(key: string, payload: Uint8Array): Promise<void> | undefined {
    const p = this.byKey.get(key);
    return p && Buffer.compare(p.payload, payload) === 0 ? p.settled : undefined;
  }

  /** Tracks `settled` under `key` until it settles either way. */
  track(key: string, payload: Uint8Array, settled: Promise<void>): void {
    const entry = { payload, settled };
    this.byKey.set(key, entry);
    const forget = () => {
      if (this.byKey.get(key) === entry) this.byKey.delete(key);
    };
    settled.then(forget, forget);
  }

  get size(): number {
    return this.byKey.size;
  }
}
