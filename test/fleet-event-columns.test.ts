import t from 'tap';
import { changedCells, EVENT_COLUMNS, rowCells } from '../src/ops/fleet/columns.js';
import { LocalFleet } from '../src/ops/fleet/local.js';
import { type FleetStore } from '../src/ops/fleet/store.js';
import { StreamRows } from '../src/ops/fleet/stream-rows.js';
import type { FleetUpdate, FleetRow } from '../src/ops/fleet/types.js';
import { addVehicle, makeVehicle, startFilledFleet } from './helpers/fleet-filled.js';

// /api/events in columns: what the server keeps and sends (src/ops/fleet/columns.ts,
// stream-rows.ts) and what the page makes of it (web/rows.js), against the rows of /api/fleet
// from a real store. The streams' own rules are in fleet-events.test.ts.

interface PageRows {
  rowReader(columns: readonly string[]): (cells: unknown[]) => FleetRow;
  applyChange(v: FleetRow | undefined, change: Record<string, unknown>): FleetRow;
}
const page = (await import(new URL('../../web/rows.js', import.meta.url).href)) as PageRows;

interface FullEvent {
  full: true;
  columns: string[];
  rows: unknown[][];
  units: Record<string, string>;
}
interface DeltaEvent {
  full: false;
  changed: Record<string, unknown>[];
  removed: string[];
}

const bodyOf = (store: FleetStore, since = 0): Promise<{ body: FleetUpdate; cursor: number }> =>
  new LocalFleet(store, {
    fleetTotals: () => ({
      frames_acked_total: 0,
      frames_unanswered_total: 0,
      frames_error_total: 0,
      fields_total: 0,
      records_in_flight: 0,
      broker_connected: null,
    }),
    readiness: () => ({ ready: true }),
  }).changes(since);

t.test('a full event read by the page gives back the rows of /api/fleet', async (t) => {
  const fleet = await startFilledFleet(300);
  t.teardown(() => fleet.close());
  const { body } = await bodyOf(fleet.store);
  const rows = new StreamRows();
  t.equal(rows.apply(body).length, 300, 'every row is new');
  const full = JSON.parse(rows.full()) as FullEvent;
  t.same(full.columns, EVENT_COLUMNS);
  t.equal(full.full, true);
  t.same(full.units, body.units);
  const read = page.rowReader(full.columns);
  const byVin = (rows: FleetRow[]) => [...rows].sort((a, b) => (a.vin < b.vin ? -1 : 1));
  t.strictSame(byVin(full.rows.map(read)), byVin(body.vehicles), 'every row read back whole');
  t.ok(fleet.specs.some((s) => s.alerts?.length) && body.vehicles.some((r) => r.alert_counts.warning > 0), 'the fleet has alerts to carry');
  t.ok(Buffer.byteLength(rows.full()) < 0.6 * Buffer.byteLength(JSON.stringify(body.vehicles)), 'columns take well under the bytes of rows as objects');
});

t.test('a delta holds only the columns that changed, and the page applies it', async (t) => {
  const fleet = await startFilledFleet(20);
  t.teardown(() => fleet.close());
  const rows = new StreamRows();
  const first = await bodyOf(fleet.store);
  rows.apply(first.body);
  rows.cursor = first.cursor;
  const vin = fleet.specs[3].vin;
  const before = first.body.vehicles.find((r) => r.vin === vin)!;

  const quiet = await bodyOf(fleet.store, rows.cursor);
  t.same(rows.apply(quiet.body), [], 'nothing changed: no entry');
  fleet.drive([vin], () => 88);
  const next = await bodyOf(fleet.store, rows.cursor);
  const changed = rows.apply(next.body);
  t.equal(changed.length, 1);
  t.same(Object.keys(changed[0]).sort(), ['fields', 'frames', 'last_frame_at', 'speed', 'vin']);
  t.equal(changed[0].speed, 88);
  const after = next.body.vehicles.find((r) => r.vin === vin)!;
  t.same(page.applyChange(before, changed[0]), after, 'the page row after the delta is the new row');
  t.same(before.key.speed === 88, false, 'the old row is not changed in place');
  const delta = JSON.parse(rows.delta(changed, [])) as DeltaEvent;
  t.same(delta.changed, changed);
  t.same(delta.removed, []);

  // A vehicle the stream had not sent arrives with every column; the page makes a new row of it.
  const fresh = makeVehicle(99, () => 0.5);
  addVehicle(fleet.store, fresh);
  const added = rows.apply((await bodyOf(fleet.store, next.cursor)).body);
  t.same(Object.keys(added[0]), EVENT_COLUMNS, 'a new vehicle: every column');
  const made = (await bodyOf(fleet.store)).body.vehicles.find((r) => r.vin === fresh.vin)!;
  t.same(page.applyChange(undefined, added[0]), made);
});

t.test('cells: arrays compared by value; a cell back to its old value is a change again', (t) => {
  const row = (speed: number, lat: number): FleetRow => ({
    vin: 'V',
    name: null,
    connected: true,
    since: 1,
    last_frame_at: null,
    frames: 1,
    fields: 1,
    key: { soc: null, speed, gear: null, charging: null, location: { lat, lon: 2 }, odometer: null, range: null, firmware: null },
    trip_score: null,
    alert_counts: { fault: 0, warning: 0, info: 0 },
    error_counts: { fault: 0, warning: 0, info: 0 },
  });
  t.equal(changedCells(rowCells(row(1, 1)), rowCells(row(1, 1))), undefined, 'equal rows, equal arrays: no change');
  t.same(changedCells(rowCells(row(1, 1)), rowCells(row(2, 1))), { vin: 'V', speed: 2 });
  t.same(changedCells(rowCells(row(1, 1)), rowCells(row(1, 3))), { vin: 'V', location: [3, 2] });
  t.end();
});
