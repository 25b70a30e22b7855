import type { Instant, VehicleRecord } from 'fleet-telemetry/plugin';

function iso(t: Instant | undefined): string | undefined {
  return t ? new Date(Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6)).toISOString() : undefined;
}

/** The JSON line a record becomes: its type, txid, time and what it carries. */
export function recordLine(r: VehicleRecord): string {
  const base = { type: r.type, txid: r.txid, created_at: iso(r.createdAt) };
  switch (r.type) {
    case 'V':
      // Each value is already JSON text (as subscribers see it): parsed, so the line nests it.
      return JSON.stringify({ ...base, data: Object.fromEntries(r.data.map((d) => [d.name, JSON.parse(d.json) as unknown])) }) + '\n';
    case 'alerts':
      return (
        JSON.stringify({
          ...base,
          alerts: r.alerts.map((a) => ({ name: a.name, audiences: a.audiences, started_at: iso(a.startedAt), ended_at: iso(a.endedAt) })),
        }) + '\n'
      );
    case 'errors':
      return JSON.stringify({ ...base, errors: r.errors.map((e) => ({ name: e.name, body: e.body, tags: e.tags })) }) + '\n';
    case 'connectivity':
      return JSON.stringify({ ...base, status: r.status, connection_id: r.connectionId, network_interface: r.networkInterface }) + '\n';
  }
}
