/** The fleet view's JSON (see the API contract): what /api/fleet, /api/vehicles/<VIN> and /api/events send. */
import type { IssueCounts, Severity } from './severity.js';
import type { KeyUnits } from './units.js';

export type { IssueCounts } from './severity.js';
export type { KeyUnits } from './units.js';

export interface KeyValues {
  soc: number | null;
  speed: number | null;
  gear: string | null;
  charging: string | null;
  location: { lat: number; lon: number } | null;
  odometer: number | null;
  range: number | null;
  /** The `Version` field: the car's software. */
  firmware: string | null;
}

export interface FleetRow {
  vin: string;
  name: string | null;
  connected: boolean;
  /** Connected at, or disconnected at. */
  since: number;
  last_frame_at: number | null;
  frames: number;
  fields: number;
  key: KeyValues;
  trip_score: number | null;
  /** Active alerts by severity (severity.ts). */
  alert_counts: IssueCounts;
  /** Errors kept (the latest per name) by severity. */
  error_counts: IssueCounts;
}

export interface FieldView {
  name: string;
  value: unknown;
  at: number;
}

export interface AlertView {
  name: string;
  audiences: string[];
  started_at: number | null;
  ended_at: number | null;
}

export interface ErrorView {
  name: string;
  body: string;
  at: number;
}

/**
 * /api/vehicles/<VIN>: the row plus its latest values. `fields` is the list here, so the row's
 * count of fields moves to `fields_total`; `fields_dropped` counts fields past the per-vehicle bound.
 */
export interface VehicleDetail extends Omit<FleetRow, 'fields'> {
  fields_total: number;
  fields_dropped: number;
  fields: FieldView[];
  /** With the severity the row's counts use. */
  alerts: (AlertView & { severity: Severity })[];
  errors: ErrorView[];
}

/** A store's detail of one vehicle, before it becomes a VehicleDetail (workers send this one). */
export interface StoredDetail {
  row: StoredRow;
  fields: FieldView[];
  alerts: AlertView[];
  errors: ErrorView[];
  fields_dropped: number;
}

export interface FleetHealth {
  vehicles_connected: number;
  vehicles_known: number;
  frames_per_s: number;
  fields_per_s: number;
  frames_acked_total: number;
  frames_unanswered_total: number;
  frames_error_total: number;
  /** null: no MQTT producer, so no broker to be connected to. */
  broker_connected: boolean | null;
  ready: boolean;
  records_in_flight: number;
  workers: number;
}

/** Health, units and the rows changed after a cursor (from 0: every row, the body of GET /api/fleet). */
export interface FleetUpdate {
  at: number;
  health: FleetHealth;
  /** The unit of each numeric key value (soc, speed, odometer, range), from the discovery table. */
  units: KeyUnits;
  vehicles: FleetRow[];
}

/** One process's counters behind the health figures (summed over workers). */
export interface FleetTotals {
  frames_acked_total: number;
  frames_unanswered_total: number;
  frames_error_total: number;
  fields_total: number;
  records_in_flight: number;
  broker_connected: boolean | null;
}

/**
 * A row as a store keeps it for merging: `heard` is when the vehicle was last heard from (frame,
 * connect or disconnect), which decides the winner when two workers know the same VIN.
 */
export interface StoredRow extends FleetRow {
  heard: number;
}

/** A worker's answer to the primary: rows changed after `since`, and the cursor to ask from next. */
export interface FleetChanges {
  /** Identifies the worker's store: a new one (the worker restarted) starts from cursor 0. */
  epoch: string;
  cursor: number;
  rows: StoredRow[];
  totals: FleetTotals;
}

/** What the HTTP layer reads: one server's store, or the primary's merge over its workers. */
export interface FleetSource {
  /** Rows changed after `since` (0: every row), health, and the cursor for the next call. */
  changes(since: number): Promise<{ body: FleetUpdate; cursor: number }>;
  vehicle(vin: string): Promise<VehicleDetail | undefined>;
}
