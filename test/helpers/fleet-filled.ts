import { pino } from 'pino';
import { FleetStore } from '../../src/ops/fleet/store.js';
import { LocalFleet } from '../../src/ops/fleet/local.js';
import { startMonitor, type MonitorServer } from '../../src/ops/monitor.js';
import { decodeRecord } from '../../src/record/decode.js';
import type { Alert, VehicleErrorEntry } from '../../src/record/types.js';
import { vPayload } from './vehicle.js';

/**
 * A fleet of any size without a connection per vehicle: the real FleetStore filled with real
 * decoded records, served by the real monitoring endpoints (page, /api/fleet, /api/events) in
 * this process. For the page at 10,000 vehicles, where 10,000 mTLS cars would measure the
 * machine rather than the page.
 */

type Json = Record<string, unknown>;

/** What a connection looks like to the store; frames and lastFrameAt move as the test drives it. */
export interface FakeSession {
  info: { vin: string };
  connectedAt: number;
  frames: number;
  fields: number;
  lastFrameAt: number;
}

export interface VehicleSpec {
  vin: string;
  connected: boolean;
  data: { key: string; value: Json }[];
  alerts?: Alert[];
  errors?: VehicleErrorEntry[];
}

const vin = (i: number) => `5YJ3E7EB2NF${String(i + 1).padStart(6, '0')}`;
const at = (ms: number) => ({ seconds: BigInt(Math.floor(ms / 1000)), nanos: 0 });

/** A small seeded generator, so every run shows the same fleet. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const DEPOTS = ['Oakland', 'Fremont', 'San Mateo', 'Palo Alto', 'Hayward', 'Daly City'];
const FIRMWARE = ['2025.20.3 4f1a2b', '2025.14.6 9c0d1e', '2024.44.25 a1b2c3'];

/** Vehicle `i` of a made-up fleet around the San Francisco bay: names, states, alerts and all. */
export function makeVehicle(i: number, r: () => number): VehicleSpec {
  const connected = r() < 0.75;
  const driving = connected && r() < 0.4;
  const soc = Math.round((10 + r() * 90) * 10) / 10;
  const c = r();
  const charge = driving ? 'Disconnected' : c < 0.25 ? 'Charging' : c < 0.3 ? 'Complete' : c < 0.35 ? 'Stopped' : 'Disconnected';
  const data = [
    { key: 'VehicleName', value: { string_value: `${DEPOTS[i % DEPOTS.length]} ${String(Math.floor(i / DEPOTS.length) + 1).padStart(2, '0')}` } },
    { key: 'Soc', value: { double_value: soc } },
    { key: 'VehicleSpeed', value: { float_value: driving ? Math.round(5 + r() * 70) : 0 } },
    { key: 'Gear', value: { shift_state_value: driving ? 'ShiftStateD' : 'ShiftStateP' } },
    { key: 'DetailedChargeState', value: { detailed_charge_state_value: `DetailedChargeState${charge}` } },
    { key: 'Location', value: { location_value: { latitude: 37.55 + (r() - 0.5) * 0.4, longitude: -122.2 + (r() - 0.5) * 0.45 } } },
    { key: 'Odometer', value: { double_value: Math.round((500 + r() * 80_000) * 10) / 10 } },
    { key: 'RatedRange', value: { double_value: Math.round(soc * 3.1 * 10) / 10 } },
    { key: 'Version', value: { string_value: FIRMWARE[Math.floor(r() * FIRMWARE.length)] } },
  ];
  const a = r();
  const alerts: Alert[] = [];
  const started = at(Date.now() - Math.floor(r() * 3600_000));
  if (a < 0.03) alerts.push({ name: 'BMS_a066_SW_Over_Temp', audiences: ['Customer', 'ServiceFix'], startedAt: started });
  if (a < 0.09) alerts.push({ name: 'UI_a020_Door_Open', audiences: ['Customer'], startedAt: started });
  if (a > 0.95) alerts.push({ name: 'VCFRONT_a180_Wiper_Service', audiences: ['Service'], startedAt: started });
  const errors: VehicleErrorEntry[] =
    r() < 0.04 ? [{ name: 'stream_backlog', body: 'records dropped while offline', tags: {}, createdAt: at(Date.now() - 600_000) }] : [];
  return { vin: vin(i), connected, data, alerts, errors };
}

/** Puts one vehicle in the store as the server would: connected (or connected then gone), then its records acked. */
export function addVehicle(store: FleetStore, spec: VehicleSpec, now = Date.now()): FakeSession {
  const s: FakeSession = { info: { vin: spec.vin }, connectedAt: now - 3600_000, frames: 1, fields: spec.data.length, lastFrameAt: now - 1000 };
  store.vehicleConnected(s);
  store.recordAcked(decodeRecord('V', vPayload(spec.data, spec.vin), spec.vin, 'tx'));
  const base = { vin: spec.vin, txid: '', payload: new Uint8Array() };
  if (spec.alerts?.length) store.recordAcked({ ...base, type: 'alerts', alerts: spec.alerts });
  if (spec.errors?.length) store.recordAcked({ ...base, type: 'errors', errors: spec.errors });
  if (!spec.connected) store.vehicleDisconnected(s);
  return s;
}

export interface FilledFleet {
  store: FleetStore;
  /** The store as the monitoring server reads it. */
  source: LocalFleet;
  sessions: Map<string, FakeSession>;
  specs: VehicleSpec[];
  port: number;
  url: string;
  /** A new speed for each of `vins` (each a counted frame), as a car driving would send. */
  drive(vins: Iterable<string>, speed: (vin: string) => number): void;
  /** A counted frame for each of `vins` that changed no value: the row is sent again all the same. */
  touch(vins: Iterable<string>): void;
  close(): Promise<void>;
}

/** `n` made-up vehicles (plus `extra`) in a store, served on a free loopback port. */
export async function startFilledFleet(n: number, extra: VehicleSpec[] = [], seed = 34): Promise<FilledFleet> {
  const store = new FleetStore({ max_vehicles: Math.max(10_000, n + extra.length), max_fields_per_vehicle: 50 });
  const r = random(seed);
  const specs = [...Array.from({ length: n }, (_, i) => makeVehicle(i, r)), ...extra];
  const sessions = new Map<string, FakeSession>();
  for (const spec of specs) sessions.set(spec.vin, addVehicle(store, spec));
  const totals = {
    frames_acked_total: n,
    frames_unanswered_total: 0,
    frames_error_total: 0,
    fields_total: n * 9,
    records_in_flight: 0,
    broker_connected: true,
  };
  const fleet = new LocalFleet(store, { fleetTotals: () => totals, readiness: () => ({ ready: true }) });
  const metrics = {
    registry: { metrics: () => Promise.resolve(''), contentType: 'text/plain' },
    readiness: () => ({ ready: true, producers: {} }),
    vehicles: () => [],
  };
  const server: MonitorServer = await startMonitor({ host: '127.0.0.1', port: 0, metrics, logger: pino({ level: 'silent' }), fleet });
  return {
    store,
    source: fleet,
    sessions,
    specs,
    port: server.port,
    url: `http://127.0.0.1:${server.port}/`,
    drive(vins, speed) {
      const now = Date.now();
      for (const v of vins) {
        const s = sessions.get(v);
        if (!s) continue;
        s.frames++;
        s.fields++;
        s.lastFrameAt = now;
        store.recordAcked(decodeRecord('V', vPayload([{ key: 'VehicleSpeed', value: { float_value: speed(v) } }], v), v, 'tx'));
      }
    },
    touch(vins) {
      const now = Date.now();
      for (const v of vins) {
        const s = sessions.get(v);
        if (!s) continue;
        s.frames++;
        s.lastFrameAt = now;
      }
    },
    close: () => server.close(),
  };
}
