import { spawnSync } from 'node:child_process';
import { performance, PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { FleetStore } from '../src/ops/fleet/store.js';
import { decodeRecord } from '../src/record/decode.js';
import { lookupEnum, lookupType } from '../src/record/schema.js';
import type { VRecord } from '../src/record/types.js';
import { flagsOrExit, type FlagSpec } from './lib/args.js';

// Memory of the fleet view's latest values (issue #23): heap used before and after filling the
// store with N vehicles × F fields of real decoded records, then the per-field cost of the
// per-record path once every slot exists, and what reading the whole view costs. Usage:
//   node --expose-gc build/bench/fleet-memory.js [--vehicles 10000] [--fields 50] [--json]

const SPEC = {
  vehicles: { type: 'number', default: 10_000, min: 1, int: true, help: 'vehicles in the store' },
  fields: { type: 'number', default: 50, min: 1, int: true, help: 'fields per vehicle' },
  updates: { type: 'number', default: 200_000, min: 1, int: true, help: 'records through the per-record path once every slot exists' },
  json: { type: 'bool', default: false, help: 'one JSON line, for scripts' },
  help: { type: 'bool', default: false, help: 'this text' },
} satisfies Record<string, FlagSpec>;
const flags = flagsOrExit(process.argv.slice(2), SPEC, 'usage: node --expose-gc build/bench/fleet-memory.js [flags]   (make bench-fleet)');

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  // Heap figures mean little without a full collection first: run again with --expose-gc.
  const r = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

const VEHICLES = flags.vehicles!;
const FIELDS = flags.fields!;
const UPDATES = flags.updates!;
const JSON_OUT = flags.json;

const Payload = lookupType('telemetry.vehicle_data.Payload');
const fieldNumbers = Object.values(lookupEnum('telemetry.vehicle_data.Field').values).filter((n) => n > 0 && n < 300);
if (fieldNumbers.length < FIELDS) throw new Error(`the schema has only ${fieldNumbers.length} fields`);
const keys = fieldNumbers.slice(0, FIELDS);

/** One V record of FIELDS datums, values varying by vehicle and round so every JSON text is its own string. */
function record(vin: string, i: number, round: number): VRecord {
  const data = keys.map((key, j) => ({ key, value: j % 5 === 0 ? { string_value: `v${i}-${j}-${round}` } : { double_value: i * 1.25 + j + round / 8 } }));
  return decodeRecord('V', Payload.encode(Payload.fromObject({ data })).finish(), vin, '') as VRecord;
}

const vinOf = (i: number) => `5YJ3E7EB2NF${String(i).padStart(6, '0')}`;
const heap = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

const store = new FleetStore({ max_vehicles: VEHICLES, max_fields_per_vehicle: 256 });
const sessions = Array.from({ length: VEHICLES }, (_, i) => ({
  info: { vin: vinOf(i) },
  connectedAt: Date.now(),
  frames: 1,
  fields: FIELDS,
  lastFrameAt: Date.now(),
}));
// The decoder's own tables are built by a first record, outside the figure.
record(vinOf(0), 0, 0);
const before = heap();
for (let i = 0; i < VEHICLES; i++) {
  store.vehicleConnected(sessions[i]);
  // Each record dies after this line, as on the server: only what the store keeps stays.
  store.recordAcked(record(sessions[i].info.vin, i, 0));
}
const after = heap();
const total = after - before;

// The hot path once slots exist, records decoded beforehand. Allocation is read off heapUsed
// with no collection in between (gcs counts any that happened anyway, making it a lower bound).
const pool = Array.from({ length: 1000 }, (_, i) => record(vinOf(i % VEHICLES), i, 1));
let gcs = 0;
const obs = new PerformanceObserver((list) => (gcs += list.getEntries().length));
obs.observe({ entryTypes: ['gc'] });
heap();
await new Promise((r) => setTimeout(r, 10));
gcs = 0;
const h0 = process.memoryUsage().heapUsed;
const t0 = performance.now();
for (let n = 0; n < UPDATES; n++) store.recordAcked(pool[n % pool.length]);
const updateMs = performance.now() - t0;
const h1 = process.memoryUsage().heapUsed;
await new Promise((r) => setTimeout(r, 10));
obs.disconnect();
const nsPerField = (updateMs * 1e6) / (UPDATES * FIELDS);
const allocPerField = (h1 - h0) / (UPDATES * FIELDS);

// Reading the view: /api/fleet (every row, key values parsed) and one vehicle's detail.
const t1 = performance.now();
const rows = store.changes(0).rows.length;
const fleetMs = performance.now() - t1;
const t2 = performance.now();
const detailFields = store.detail(vinOf(0))!.fields.length;
const detailMs = performance.now() - t2;

const result = {
  vehicles: VEHICLES,
  fields_per_vehicle: FIELDS,
  heap_before_mb: +(before / 1e6).toFixed(1),
  heap_after_mb: +(after / 1e6).toFixed(1),
  store_mb: +(total / 1e6).toFixed(1),
  bytes_per_vehicle: Math.round(total / VEHICLES),
  bytes_per_field: Math.round(total / (VEHICLES * FIELDS)),
  update_ns_per_field: +nsPerField.toFixed(1),
  update_bytes_allocated_per_field: +allocPerField.toFixed(2),
  gcs_during_updates: gcs,
  fleet_read_ms: +fleetMs.toFixed(1),
  fleet_rows: rows,
  detail_read_ms: +detailMs.toFixed(2),
  detail_fields: detailFields,
};
if (JSON_OUT) console.log(JSON.stringify(result));
else {
  console.log(`fleet store: ${VEHICLES} vehicles × ${FIELDS} fields`);
  console.log(
    `  heap used ${result.heap_before_mb} MB → ${result.heap_after_mb} MB: ${result.store_mb} MB, ${result.bytes_per_vehicle} B per vehicle, ${result.bytes_per_field} B per field`,
  );
  console.log(
    `  per-record path, slots existing: ${result.update_ns_per_field} ns per field; ${result.update_bytes_allocated_per_field} B allocated per field (${UPDATES} records, ${gcs} collections meanwhile)`,
  );
  console.log(`  reading: /api/fleet rows (${rows}) in ${result.fleet_read_ms} ms, one detail (${detailFields} fields) in ${result.detail_read_ms} ms`);
}
