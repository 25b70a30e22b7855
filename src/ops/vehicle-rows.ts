import type { VehicleView } from './metrics.js';

/**
 * /vehicles: one row per vehicle however many connections it has (a reconnect whose old connection
 * lingers, maybe on another worker). The newest connection names the row (its id, version,
 * interface, worker); the vehicle is connected since its oldest; frames and fields add up.
 */
export function oneRowPerVehicle<V extends VehicleView & { worker?: number }>(views: readonly V[]): (V & { connections: number })[] {
  const byVin = new Map<string, V & { connections: number }>();
  for (const v of views) {
    const had = byVin.get(v.vin);
    if (!had) {
      byVin.set(v.vin, { ...v, connections: 1 });
      continue;
    }
    const newer = v.connected_since > had.connected_since ? v : had;
    const last =
      [had.last_frame_at, v.last_frame_at]
        .filter((x): x is string => x !== null)
        .sort()
        .pop() ?? null;
    byVin.set(v.vin, {
      ...newer,
      connected_since: v.connected_since < had.connected_since ? v.connected_since : had.connected_since,
      connected_seconds: Math.max(v.connected_seconds, had.connected_seconds),
      frames: had.frames + v.frames,
      fields: had.fields + v.fields,
      last_frame_at: last,
      connections: had.connections + 1,
    });
  }
  return [...byVin.values()].sort((a, b) => a.connected_since.localeCompare(b.connected_since));
}
