import type { FleetApiClient } from './fleet-api.js';

export interface SyncState {
  synced: boolean;
  config?: Record<string, unknown>;
  /** Why this VIN's state is unknown (a failed read); the next round tries again. */
  error?: string;
}

export interface WaitOptions {
  waitMs: number;
  pollMs: number;
  onRound?: (states: Map<string, SyncState>, elapsedMs: number) => void;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

/**
 * Reads each VIN's fleet_telemetry_config until every one reports synced: true, or `waitMs`
 * passed. A failed read is noted and retried, not fatal: a car may be asleep for a while.
 */
export async function waitForSync(client: Pick<FleetApiClient, 'vehicleConfig'>, vins: string[], o: WaitOptions): Promise<Map<string, SyncState>> {
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const start = now();
  const states = new Map<string, SyncState>(vins.map((v) => [v, { synced: false }]));
  for (;;) {
    for (const vin of vins) {
      if (states.get(vin)!.synced) continue;
      try {
        const r = await client.vehicleConfig(vin);
        states.set(vin, { synced: r.synced, config: r.config });
      } catch (err) {
        states.set(vin, { synced: false, error: (err as Error).message });
      }
    }
    const elapsed = now() - start;
    o.onRound?.(states, elapsed);
    if ([...states.values()].every((s) => s.synced) || elapsed + o.pollMs > o.waitMs) return states;
    await sleep(o.pollMs);
  }
}

/** "10m", "90s", "1h", "600" (seconds), "0" → milliseconds; undefined when not a duration. */
export function parseDuration(s: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return Math.round(n * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000));
}

export const clock = (ms: number) => `${Math.floor(ms / 60_000)}:${String(Math.floor((ms % 60_000) / 1000)).padStart(2, '0')}`;
