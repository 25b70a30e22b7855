import type { FleetStore } from './store.js';
import type { FleetUpdate, FleetChanges, FleetSource, FleetTotals, VehicleDetail } from './types.js';
import { KEY_UNITS } from './units.js';
import { detailBody, healthOf, publicRow, RateWindow } from './view.js';

/** What the fleet view reads of a server's metrics. */
export interface FleetMetrics {
  fleetTotals(): FleetTotals;
  readiness(): { ready: boolean };
}

/** One server's fleet view: its own store and metrics. */
export class LocalFleet implements FleetSource {
  private readonly rate = new RateWindow();

  constructor(
    private readonly store: FleetStore,
    private readonly metrics: FleetMetrics,
  ) {}

  changes(since: number): Promise<{ body: FleetUpdate; cursor: number }> {
    const { rows, cursor } = this.store.changes(since);
    const now = Date.now();
    const health = healthOf(this.metrics.fleetTotals(), this.store.counts(), this.metrics.readiness().ready, 1, this.rate, now);
    return Promise.resolve({ body: { at: now, health, units: KEY_UNITS, vehicles: rows.map(publicRow) }, cursor });
  }

  vehicle(vin: string): Promise<VehicleDetail | undefined> {
    const d = this.store.detail(vin);
    return Promise.resolve(d && detailBody(d));
  }
}

/** A worker's answer to the primary's "fleet" question. */
export function workerChanges(store: FleetStore, metrics: FleetMetrics, since: number): FleetChanges {
  const { rows, cursor } = store.changes(since);
  return { epoch: store.epoch, cursor, rows, totals: metrics.fleetTotals() };
}
