import type protobuf from 'protobufjs';
import { lookupEnum, lookupType } from '../record/schema.js';
import { resolveFields, TRIP_FIELDS, type FieldSpec } from './fields.js';
import { CarModel, prng } from './model.js';

export interface RecordOut {
  recordType: string;
  payload: Uint8Array;
}

export interface RecordFactoryOptions {
  vin: string;
  seed: number;
  /** V fields per frame: a count or names (see fields.ts). */
  fields?: number | readonly string[];
  /** Every Nth frame is an alerts record (0: never). */
  alertsEvery?: number;
  /** Every Nth frame is an errors record (0: never); wins over alerts on a shared frame. */
  errorsEvery?: number;
  /** Simulated seconds the car advances per frame. */
  simStepSeconds?: number;
  /** Every Nth frame a harsh event (see CarModelOptions); the trip fields join the V fields. */
  harshEvery?: number;
}

// Alert and error names in the style vehicles use; invented for the emulator.
const ALERTS = [
  'CP_a043_chargePortLatchFault',
  'BMS_a066_packCoolingDegraded',
  'VCFRONT_a180_lowVoltageBattery',
  'UI_a012_tirePressureLow',
  'DI_a175_motorTempHigh',
];
const ERRORS = [
  { name: 'can_bus_timeout', body: 'no frames from ECU for 500 ms', tags: { bus: 'CH', ecu: 'VCFRONT' } },
  { name: 'telemetry_buffer_full', body: 'dropped oldest samples', tags: { buffer: 'V' } },
  { name: 'gps_fix_lost', body: 'fewer than 4 satellites', tags: { antenna: 'roof' } },
];

const timestamp = (ms: number) => ({ seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 });

/** Makes one vehicle's records frame by frame: V from the car model, now and then alerts or errors. */
export class RecordFactory {
  readonly car: CarModel;
  private readonly fields: FieldSpec[];
  private readonly fieldKeys: number[];
  private readonly rnd: () => number;
  private readonly step: number;
  private frame = 0;
  private static types?: { v: protobuf.Type; alerts: protobuf.Type; errors: protobuf.Type; field: protobuf.Enum };

  constructor(private readonly opts: RecordFactoryOptions) {
    const harshEvery = opts.harshEvery ?? 0;
    this.car = new CarModel({ seed: opts.seed, harshEvery });
    this.rnd = prng(opts.seed ^ 0x5eed);
    this.fields = resolveFields(opts.fields);
    if (harshEvery > 0) {
      for (const f of resolveFields(TRIP_FIELDS)) if (!this.fields.includes(f)) this.fields.push(f);
    }
    this.step = opts.simStepSeconds ?? 30;
    const t = RecordFactory.schema();
    this.fieldKeys = this.fields.map((f) => {
      const n = t.field.values[f.name];
      if (n === undefined) throw new Error(`field ${f.name} is not in the schema`);
      return n;
    });
  }

  private static schema() {
    return (RecordFactory.types ??= {
      v: lookupType('telemetry.vehicle_data.Payload'),
      alerts: lookupType('telemetry.vehicle_alerts.VehicleAlerts'),
      errors: lookupType('telemetry.vehicle_error.VehicleErrors'),
      field: lookupEnum('telemetry.vehicle_data.Field'),
    });
  }

  /** Names of the V fields every V frame carries. */
  get fieldNames(): string[] {
    return this.fields.map((f) => f.name);
  }

  /** The record of the next frame; time passes for the car on every frame. */
  next(nowMs = Date.now()): RecordOut {
    this.frame++;
    this.car.step(this.step);
    const { alertsEvery = 0, errorsEvery = 0 } = this.opts;
    // A harsh event is only seen in a V frame.
    if (this.car.state.harsh) return { recordType: 'V', payload: this.v(nowMs) };
    if (errorsEvery > 0 && this.frame % errorsEvery === 0) return { recordType: 'errors', payload: this.errors(nowMs) };
    if (alertsEvery > 0 && this.frame % alertsEvery === 0) return { recordType: 'alerts', payload: this.alerts(nowMs) };
    return { recordType: 'V', payload: this.v(nowMs) };
  }

  v(nowMs: number): Uint8Array {
    const t = RecordFactory.schema().v;
    const data = this.fields.map((f, i) => ({ key: this.fieldKeys[i], value: f.value(this.car, this.opts.vin) }));
    return t.encode(t.fromObject({ data, created_at: timestamp(nowMs), vin: this.opts.vin })).finish();
  }

  alerts(nowMs: number): Uint8Array {
    const t = RecordFactory.schema().alerts;
    const r = this.rnd;
    const name = ALERTS[Math.floor(r() * ALERTS.length)];
    const started = nowMs - Math.floor(r() * 600_000);
    // Half of the alerts have cleared by the time they are reported.
    const alert: Record<string, unknown> = { name, audiences: [r() < 0.7 ? 1 : 2], started_at: timestamp(started) };
    if (r() < 0.5) alert.ended_at = timestamp(started + Math.floor(r() * 60_000));
    return t.encode(t.fromObject({ alerts: [alert], created_at: timestamp(nowMs), vin: this.opts.vin })).finish();
  }

  errors(nowMs: number): Uint8Array {
    const t = RecordFactory.schema().errors;
    const e = ERRORS[Math.floor(this.rnd() * ERRORS.length)];
    return t.encode(t.fromObject({ errors: [{ ...e, created_at: timestamp(nowMs) }], created_at: timestamp(nowMs), vin: this.opts.vin })).finish();
  }
}
