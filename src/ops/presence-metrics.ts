import { Gauge, type Registry } from 'prom-client';
import { METRIC_PREFIX } from './metric-labels.js';

export const VEHICLES_CONNECTED = `${METRIC_PREFIX}vehicles_connected`;
const VEHICLES_CONNECTED_HELP = 'Vehicles connected now, each once however many connections it has (see vehicle_connections_open).';

/** The gauge of vehicles connected, counted by `count` at scrape time (the primary's, over its workers). */
export function vehiclesConnectedGauge(registry: Registry, count: () => number): void {
  new Gauge({
    name: VEHICLES_CONNECTED,
    help: VEHICLES_CONNECTED_HELP,
    registers: [registry],
    collect() {
      this.set(count());
    },
  });
}

/** Distinct VINs among connections. */
export function distinctVins(sessions: Iterable<{ info: { vin: string } }>): number {
  const vins = new Set<string>();
  for (const s of sessions) vins.add(s.info.vin);
  return vins.size;
}
