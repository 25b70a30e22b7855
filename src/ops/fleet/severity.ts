import type { AlertView, ErrorView } from './types.js';

/**
 * How serious a vehicle's alert or error is, for the fleet view. Tesla's alerts carry no
 * severity, only who they are meant for: ServiceFix (a repair is needed) is a fault, Customer (the
 * driver was told) a warning, Service alone (recorded for service) information. Errors are the
 * car's telemetry client reporting what it could not do: warnings, never faults of the car.
 */
export type Severity = 'fault' | 'warning' | 'info';

export interface IssueCounts {
  fault: number;
  warning: number;
  info: number;
}

export function alertSeverity(audiences: readonly string[]): Severity {
  if (audiences.includes('ServiceFix')) return 'fault';
  if (audiences.includes('Customer')) return 'warning';
  return 'info';
}

/** Active alerts (not ended) by severity. */
export function countAlerts(alerts: Iterable<AlertView>): IssueCounts {
  const n: IssueCounts = { fault: 0, warning: 0, info: 0 };
  for (const a of alerts) if (a.ended_at === null) n[alertSeverity(a.audiences)]++;
  return n;
}

/** Errors kept (the latest per name) by severity. */
export function countErrors(errors: Iterable<ErrorView>): IssueCounts {
  let warning = 0;
  for (const _ of errors) warning++;
  return { fault: 0, warning, info: 0 };
}
