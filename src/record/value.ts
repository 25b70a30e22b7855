import { lookupType } from './schema.js';
import { float32Text, float64Text, int64Text } from './numbers.js';
import { Wire, utf8 } from './wire.js';

/**
 * How each member of telemetry.vehicle_data.Value turns into JSON text (docs/protocol.md §6.1). The table is built
 * from protos/ at start-up, so a member added to the schema only needs a kind here if it is a
 * new message type.
 */
type Kind =
  | { k: 'string' }
  | { k: 'int32' }
  | { k: 'int64' }
  | { k: 'float' }
  | { k: 'double' }
  | { k: 'bool' }
  | { k: 'invalid' }
  /** JSON text of each named value, made once: a record names enum values over and over. */
  | { k: 'enum'; json: Map<number, string> }
  | { k: 'message'; fields: Map<number, SubField>; render: (v: Map<number, unknown>) => string };

interface SubField {
  name: string;
  type: 'bool' | 'double' | 'int32';
}

/** A Value member as read off the wire, before rendering. */
export interface RawValue {
  /** Member field number, 0 when no member is set. */
  member: number;
  text?: string; // string_value
  num?: number;
  lo?: number;
  hi?: number;
  sub?: Map<number, unknown>;
}

// Doors read front-to-back, driver before passenger, as subscribers list them.
const DOOR_ORDER = ['DriverFront', 'PassengerFront', 'DriverRear', 'PassengerRear', 'TrunkFront', 'TrunkRear'];

function boolsObject(fields: Map<number, SubField>, v: Map<number, unknown>): string {
  let out = '{';
  let first = true;
  for (const [id, f] of fields) {
    out += `${first ? '' : ','}"${f.name}":${v.get(id) === true ? 'true' : 'false'}`;
    first = false;
  }
  return out + '}';
}

function pad2(n: unknown): string {
  const s = String(typeof n === 'number' ? n : 0);
  return s.length >= 2 ? s : '0' + s;
}

function buildKinds(): Map<number, Kind> {
  const value = lookupType('telemetry.vehicle_data.Value');
  const kinds = new Map<number, Kind>();
  for (const field of value.fieldsArray) {
    field.resolve();
    let kind: Kind;
    if (field.name === 'invalid') kind = { k: 'invalid' };
    else if (field.resolvedType && 'values' in field.resolvedType) {
      const e = field.resolvedType;
      kind = { k: 'enum', json: new Map(Object.entries(e.valuesById).map(([n, name]) => [Number(n), JSON.stringify(name)])) };
    } else if (field.resolvedType) {
      const t = field.resolvedType;
      const fields = new Map<number, SubField>();
      const ordered = t.name === 'Doors' ? [...t.fieldsArray].sort((a, b) => DOOR_ORDER.indexOf(a.name) - DOOR_ORDER.indexOf(b.name)) : t.fieldsArray;
      for (const f of ordered) fields.set(f.id, { name: f.name, type: f.type as SubField['type'] });
      let render: (v: Map<number, unknown>) => string;
      switch (t.name) {
        case 'LocationValue':
          render = (v) => `{"latitude":${float64Text((v.get(1) as number) ?? 0)},"longitude":${float64Text((v.get(2) as number) ?? 0)}}`;
          break;
        case 'Time':
          render = (v) => `"${pad2(v.get(1))}:${pad2(v.get(2))}:${pad2(v.get(3))}"`;
          break;
        default:
          // Doors, TireLocation: every boolean, named as in the schema.
          render = (v) => boolsObject(fields, v);
      }
      kind = { k: 'message', fields, render };
    } else {
      const simple: Record<string, Kind> = {
        string: { k: 'string' },
        int32: { k: 'int32' },
        int64: { k: 'int64' },
        float: { k: 'float' },
        double: { k: 'double' },
        bool: { k: 'bool' },
      };
      const s = simple[field.type];
      if (!s) throw new Error(`Value.${field.name}: no JSON rule for type ${field.type}`);
      kind = s;
    }
    kinds.set(field.id, kind);
  }
  return kinds;
}

let kinds: Map<number, Kind> | undefined;
function valueKinds(): Map<number, Kind> {
  return (kinds ??= buildKinds());
}

const f32 = new DataView(new ArrayBuffer(8));
function readF32(buf: Uint8Array, at: number): number {
  for (let i = 0; i < 4; i++) f32.setUint8(i, buf[at + i]);
  return f32.getFloat32(0, true);
}
function readF64(buf: Uint8Array, at: number): number {
  for (let i = 0; i < 8; i++) f32.setUint8(i, buf[at + i]);
  return f32.getFloat64(0, true);
}

function readSub(buf: Uint8Array, start: number, end: number, fields: Map<number, SubField>, into: Map<number, unknown>): void {
  const sw = new Wire(buf, start, end);
  while (sw.pos < end) {
    const tag = sw.varint();
    const id = tag >>> 3;
    const wt = tag & 7;
    const f = fields.get(id);
    if (f && f.type === 'double' && wt === 1) into.set(id, readF64(sw.buf, sw.fixed64()));
    else if (f && f.type === 'bool' && wt === 0) into.set(id, sw.varint() !== 0 || sw.hi !== 0);
    else if (f && f.type === 'int32' && wt === 0) into.set(id, sw.varint() | 0);
    else sw.skip(wt);
  }
}

/**
 * Reads a Value message into `v` (merging, as protobuf does when a field repeats): the last
 * member on the wire wins, as the oneof rule says.
 */
export function readValue(w: Wire, end: number, v: RawValue): void {
  const k = valueKinds();
  const outer = w.narrow(end);
  const sw = w;
  while (sw.pos < end) {
    const tag = sw.varint();
    const id = tag >>> 3;
    const wt = tag & 7;
    const kind = k.get(id);
    if (!kind) {
      sw.skip(wt);
      continue;
    }
    switch (kind.k) {
      case 'string': {
        if (wt !== 2) break;
        const e = sw.spanEnd();
        v.member = id;
        v.text = utf8(sw.buf, sw.pos, e);
        sw.pos = e;
        continue;
      }
      case 'float':
        if (wt !== 5) break;
        v.member = id;
        v.num = readF32(sw.buf, sw.fixed32());
        continue;
      case 'double':
        if (wt !== 1) break;
        v.member = id;
        v.num = readF64(sw.buf, sw.fixed64());
        continue;
      case 'message': {
        if (wt !== 2) break;
        const e = sw.spanEnd();
        if (v.member !== id || !v.sub) v.sub = new Map();
        v.member = id;
        readSub(sw.buf, sw.pos, e, kind.fields, v.sub);
        sw.pos = e;
        continue;
      }
      default: {
        if (wt !== 0) break;
        const lo = sw.varint();
        v.member = id;
        v.lo = lo;
        v.hi = sw.hi;
        continue;
      }
    }
    // A known member with the wrong wire type is skipped, as protobuf treats unknown fields.
    sw.skip(wt);
  }
  w.end = outer;
  w.pos = end;
}

/** JSON text of a Value that is not a string (strings go through the V transforms first). */
export function renderValue(v: RawValue): string {
  if (v.member === 0) return 'null';
  const kind = valueKinds().get(v.member)!;
  switch (kind.k) {
    case 'int32':
      return String(v.lo! | 0);
    case 'int64':
      return int64Text(v.lo!, v.hi!);
    case 'float':
      return float32Text(v.num!);
    case 'double':
      return float64Text(v.num!);
    case 'bool':
      return v.lo !== 0 || v.hi !== 0 ? 'true' : 'false';
    case 'invalid':
      return 'null';
    case 'enum': {
      const n = v.lo! | 0;
      return kind.json.get(n) ?? `"${n}"`;
    }
    case 'message':
      return kind.render(v.sub ?? new Map<number, unknown>());
    case 'string':
      return JSON.stringify(v.text ?? '');
  }
}
