import { connectivityConfig, fieldConfigs, serverConfig, shapeOf, type DiscoveryOptions, type Shape, type VehicleInfo } from '../../publish/discovery.js';
import type { Publish } from '../../publish/plan.js';
import type { VehicleRecord } from '../../record/types.js';

/** Key of a vehicle's connectivity entity among its fields (no field name holds `#`). */
const CONNECTIVITY = '#connectivity';

// Field numbers (protos/vehicle_data.proto) whose value describes the vehicle's device.
const VEHICLE_NAME = 64;
const VERSION = 68;
const CAR_TYPE = 113;

interface VinState {
  /** Fields announced, with the shape their configs were made from (for the birth republish). */
  fields: Map<string, Shape>;
  info: VehicleInfo;
}

function text(json: string): string | undefined {
  try {
    const v = JSON.parse(json) as unknown;
    return typeof v === 'string' && v !== '' ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Discovery follows the data: per VIN, the fields whose configs this process has published. A
 * record's first value of a field takes its configs in front of it, in the same batch (the same
 * ack). Bounded: at most maxVins vehicles are remembered, the least recently seen forgotten first
 * (a forgotten vehicle's configs are published again, retained, which changes nothing).
 */
export class Announcer {
  private readonly vins = new Map<string, VinState>();

  constructor(
    readonly o: DiscoveryOptions,
    private readonly maxVins = 10_000,
  ) {}

  private state(vin: string): VinState {
    let st = this.vins.get(vin);
    if (st) {
      // Most recently seen last: the first key is the one to forget.
      this.vins.delete(vin);
    } else {
      st = { fields: new Map(), info: {} };
      if (this.vins.size >= this.maxVins) this.vins.delete(this.vins.keys().next().value!);
    }
    this.vins.set(vin, st);
    return st;
  }

  /**
   * `pubs` (the record's publishes) with the configs of what this record shows first, in front.
   * `added` names what was announced, to forget with undo() if the batch fails.
   */
  plan(r: VehicleRecord, pubs: Publish[]): { pubs: Publish[]; added?: string[] } {
    if (r.type === 'connectivity') {
      const st = this.state(r.vin);
      if (st.fields.has(CONNECTIVITY)) return { pubs };
      st.fields.set(CONNECTIVITY, { kind: 'string' });
      return { pubs: [connectivityConfig(this.o, r.vin, st.info), ...pubs], added: [CONNECTIVITY] };
    }
    if (r.type !== 'V') return { pubs };
    const st = this.state(r.vin);
    const fields = st.fields;
    let fresh: string[] | undefined;
    for (const d of r.data) {
      const k = d.key;
      if ((k === VEHICLE_NAME || k === VERSION || k === CAR_TYPE) && this.learn(st.info, k, d.json) && fields.has(d.name)) {
        // The device's name or version changed: its field's config carries the new device info.
        fields.delete(d.name);
      }
      if (fields.has(d.name)) continue;
      fields.set(d.name, shapeOf(d.json));
      (fresh ??= []).push(d.name);
    }
    if (fresh === undefined) return { pubs };
    const configs: Publish[] = [];
    try {
      for (const name of fresh) configs.push(...fieldConfigs(this.o, r.vin, name, fields.get(name)!, st.info));
    } catch (err) {
      this.undo(r.vin, fresh);
      throw err;
    }
    return { pubs: configs.concat(pubs), added: fresh };
  }

  /** The batch that carried `added` failed: they are announced with the next value instead. */
  undo(vin: string, added: string[]): void {
    const st = this.vins.get(vin);
    if (st) for (const a of added) st.fields.delete(a);
  }

  private learn(info: VehicleInfo, key: number, json: string): boolean {
    const v = text(json);
    if (v === undefined) return false;
    const prop = key === VEHICLE_NAME ? 'name' : key === VERSION ? 'version' : 'carType';
    if (info[prop] === v) return false;
    info[prop] = v;
    return true;
  }

  /** The server's config (none without a status topic). */
  server(): Publish[] {
    const s = serverConfig(this.o);
    return s ? [s] : [];
  }

  /**
   * Every config announced so far, the server's first (Home Assistant's birth message), made as
   * they are read: vehicles seen meanwhile are included, forgotten ones left out.
   */
  *configs(): Generator<Publish> {
    yield* this.server();
    for (const [vin, st] of this.vins) {
      for (const [name, shape] of st.fields) {
        if (name === CONNECTIVITY) yield connectivityConfig(this.o, vin, st.info);
        else yield* fieldConfigs(this.o, vin, name, shape, st.info);
      }
    }
  }

  all(): Publish[] {
    return [...this.configs()];
  }
}
