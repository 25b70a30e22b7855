import { rfc3339 } from '../record/timestamp.js';
import type { Alert, ConnectivityRecord, Instant, VehicleErrorEntry } from '../record/types.js';

/** Payload texts of docs/protocol.md §6.3 for alerts, errors and connectivity. */

function time(t: Instant | undefined): string | undefined {
  return t ? rfc3339(t) : undefined;
}

/** `alert` has its instants already normalised (milliseconds read as such, docs/protocol.md §4). */
export function alertObject(alert: Alert): Record<string, unknown> {
  const o: Record<string, unknown> = { Name: alert.name };
  const started = time(alert.startedAt);
  if (started !== undefined) o.StartedAt = started;
  const ended = time(alert.endedAt);
  if (ended !== undefined) o.EndedAt = ended;
  o.Audiences = alert.audiences;
  return o;
}

export function errorJson(e: VehicleErrorEntry): string {
  const o: Record<string, unknown> = { Name: e.name, Body: e.body, Tags: e.tags };
  const created = time(e.createdAt);
  if (created !== undefined) o.CreatedAt = created;
  return JSON.stringify(o);
}

export function connectivityJson(r: ConnectivityRecord): string {
  const o: Record<string, unknown> = { ConnectionId: r.connectionId, Status: r.status };
  const created = time(r.createdAt);
  if (created !== undefined) o.CreatedAt = created;
  return JSON.stringify(o);
}
