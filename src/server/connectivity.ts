import { lookupType } from '../record/schema.js';
import type { ConnectivityRecord } from '../record/types.js';
import type { SessionInfo } from './session.js';
import { isPermanent } from '../producers/types.js';
import { Backoff } from '../backoff.js';

const STATUS = { CONNECTED: 1, DISCONNECTED: 2 } as const;

/** The record the server makes on a vehicle's connect and disconnect (docs/protocol.md §4). */
export function makeConnectivityRecord(info: SessionInfo, status: keyof typeof STATUS, now = Date.now()): ConnectivityRecord {
  const seconds = Math.floor(now / 1000);
  const nanos = (now % 1000) * 1_000_000;
  const type = lookupType('telemetry.vehicle_connectivity.VehicleConnectivity');
  const payload = type
    .encode(
      type.create({
        vin: info.vin,
        connection_id: info.connectionId,
        status: STATUS[status],
        created_at: { seconds, nanos },
        network_interface: info.networkInterface,
      }),
    )
    .finish();
  return {
    type: 'connectivity',
    vin: info.vin,
    txid: '',
    payload,
    connectionId: info.connectionId,
    status,
    networkInterface: info.networkInterface,
    createdAt: { seconds: BigInt(seconds), nanos },
    receivedAt: now,
    clientVersion: info.clientVersion,
  };
}

/**
 * Offers a record until a producer takes it, with backoff (1 s doubling to 30 s, ±20%), while
 * `wanted()` holds: a vehicle that connected during a broker outage must not look offline to
 * subscribers once the broker is back. The record is made once, so its connection id and time
 * are those of the connect.
 */
export class UntilTaken {
  private timer?: NodeJS.Timeout;
  private readonly backoff: Backoff;

  constructor(
    private readonly send: () => Promise<void>,
    private readonly wanted: () => boolean,
    /** Told when a retry (not the first attempt) was taken. */
    private readonly onLate?: (attempts: number) => void,
    maxWaitMs = 30_000,
  ) {
    this.backoff = new Backoff(1000, maxWaitMs);
  }

  private attempts = 0;

  /** One attempt; a transient failure schedules the next and rethrows. */
  async attempt(): Promise<void> {
    this.attempts++;
    try {
      await this.send();
    } catch (err) {
      if (!isPermanent(err) && this.wanted()) this.later();
      throw err;
    }
    if (this.attempts > 1) this.onLate?.(this.attempts);
  }

  cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private later(): void {
    const wait = this.backoff.next();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.wanted()) this.attempt().catch(() => {});
    }, wait);
  }
}
