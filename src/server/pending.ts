import { crc32 } from 'node:zlib';
import { completionOf } from '../producers/types.js';

/** Frames remembered as acked, server-wide; about 100 bytes each. */
const ACKED_REMEMBERED = 50_000;

/**
 * Records being published, by vehicle, record type and txid, so that a vehicle's resend of a
 * frame still in flight joins it instead of publishing every field again. Without this, a broker
 * slower than the offered load turns timeouts into resends into more load (congestion collapse:
 * measured 5,813 duplicate fields and acks that never resumed). Bounded by the records in flight.
 *
 * And the frames acked lately (the last ACKED_REMEMBERED): a resend that crossed its ack, or
 * waited unread while the server held the vehicle back, is acked again with nothing published.
 */
export class PendingRecords {
  private readonly byKey = new Map<string, { payload: Uint8Array; settled: Promise<void> }>();
  /** Key → CRC-32 of the payload; a Map iterates oldest first, so the oldest goes first. */
  private readonly acked = new Map<string, number>();

  constructor(private readonly ackedMax = ACKED_REMEMBERED) {}

  /** The key of a frame; undefined when it has no txid to match a resend by. */
  static key(vin: string, recordType: string, txid: string): string | undefined {
    return txid === '' ? undefined : `${vin}\u0000${recordType}\u0000${txid}`;
  }

  /** The pending publish of the same frame (same key and payload bytes), to wait on instead. */
  join(key: string, payload: Uint8Array): Promise<void> | undefined {
    const p = this.byKey.get(key);
    return p && Buffer.compare(p.payload, payload) === 0 ? p.settled : undefined;
  }

  /** Whether the same frame (same key, same payload checksum) was acked lately. */
  ackedBefore(key: string, payload: Uint8Array): boolean {
    const sum = this.acked.get(key);
    return sum !== undefined && sum === crc32(payload);
  }

  /**
   * Tracks `settled` under `key` until it settles either way, and remembers the frame once it is
   * acked, or once the work of a record answered "not yet" completes after all (StillInFlight).
   */
  track(key: string, payload: Uint8Array, settled: Promise<void>): void {
    const entry = { payload, settled };
    this.byKey.set(key, entry);
    const forget = () => {
      if (this.byKey.get(key) === entry) this.byKey.delete(key);
    };
    const remember = () => this.remember(key, payload);
    settled.then(
      () => {
        forget();
        remember();
      },
      (err: unknown) => {
        forget();
        completionOf(err)?.then(remember, () => {});
      },
    );
  }

  private remember(key: string, payload: Uint8Array): void {
    const acked = this.acked;
    acked.delete(key); // a re-used key moves to the newest end
    acked.set(key, crc32(payload));
    if (acked.size > this.ackedMax) acked.delete(acked.keys().next().value!);
  }

  get size(): number {
    return this.byKey.size;
  }

  /** Frames remembered as acked. */
  get remembered(): number {
    return this.acked.size;
  }
}
