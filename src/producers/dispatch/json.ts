import Long from 'long';
import protobuf from 'protobufjs';
import { float32Text } from '../../record/numbers.js';
import type { ProtoObject, TeslaMessage } from './proto.js';

/**
 * Tesla's JSON of a record (`transmit_decoded_records`): the proto3 JSON mapping as Go's protojson
 * writes it with every field emitted: JSON names (lowerCamelCase), enum names (numbers when
 * unknown), 64-bit integers as strings, timestamps in RFC 3339, unset messages as null, empty
 * lists and maps, oneof members only when set. Go adds random spaces to its output on purpose,
 * so consumers compare it parsed; this writes none.
 */
export function teslaJson(m: TeslaMessage): string {
  return messageJson(m.type, m.message);
}

/** protoc's json_name: each `_` dropped and the letter after it upper-cased. */
function jsonName(field: string): string {
  let out = '';
  let upper = false;
  for (const c of field) {
    if (c === '_') upper = true;
    else {
      out += upper ? c.toUpperCase() : c;
      upper = false;
    }
  }
  return out;
}

const has = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

function messageJson(type: protobuf.Type, m: ProtoObject): string {
  if (type.fullName === '.google.protobuf.Timestamp') return JSON.stringify(timestampText(m));
  const parts: string[] = [];
  for (const f of type.fieldsArray) {
    const v = m[f.name];
    const set = v !== undefined && v !== null && has(m, f.name);
    // A oneof member is written only when it is the one set.
    if (f.partOf && !set) continue;
    parts.push(`${JSON.stringify(jsonName(f.name))}:${fieldJson(f, set ? v : undefined)}`);
  }
  return `{${parts.join(',')}}`;
}

function fieldJson(f: protobuf.Field, v: unknown): string {
  f.resolve();
  if (f.map) {
    const mf = f as unknown as ValueField;
    const obj = (v ?? {}) as Record<string, unknown>;
    // Go writes map entries sorted by key.
    const keys = Object.keys(obj).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${singleJson(mf, obj[k])}`).join(',')}}`;
  }
  if (f.repeated) return `[${((v ?? []) as unknown[]).map((x) => singleJson(f, x)).join(',')}]`;
  return singleJson(f, v);
}

/** What a value's JSON depends on: a field's, or a map field's value, type. */
interface ValueField {
  type: string;
  resolvedType: protobuf.Type | protobuf.Enum | null;
}

/** One value of a field; undefined stands for the field's default. */
function singleJson(f: ValueField, v: unknown): string {
  const rt = f.resolvedType;
  if (rt instanceof protobuf.Type) return v === undefined || v === null ? 'null' : messageJson(rt, v as ProtoObject);
  if (rt instanceof protobuf.Enum) {
    const n = (v as number | undefined) ?? 0;
    const name = rt.valuesById[n];
    return name === undefined ? String(n) : JSON.stringify(name);
  }
  switch (f.type) {
    case 'double':
      return doubleJson((v as number | undefined) ?? 0);
    case 'float':
      return floatJson((v as number | undefined) ?? 0);
    case 'int64':
    case 'uint64':
    case 'sint64':
    case 'fixed64':
    case 'sfixed64':
      return JSON.stringify(longText(v as number | Long | undefined));
    case 'bool':
      return v ? 'true' : 'false';
    case 'string':
      return JSON.stringify((v as string | undefined) ?? '');
    case 'bytes':
      return JSON.stringify(Buffer.from((v as Uint8Array | undefined) ?? new Uint8Array()).toString('base64'));
    default:
      return String((v as number | undefined) ?? 0);
  }
}

function nonFinite(n: number): string | undefined {
  if (Number.isNaN(n)) return '"NaN"';
  if (n === Infinity) return '"Infinity"';
  if (n === -Infinity) return '"-Infinity"';
  return undefined;
}

/** Go's shortest form matches JavaScript's, exponent thresholds included; Go keeps the sign of -0. */
function doubleJson(n: number): string {
  return nonFinite(n) ?? (Object.is(n, -0) ? '-0' : String(n));
}

function floatJson(n: number): string {
  return nonFinite(n) ?? (Object.is(n, -0) ? '-0' : float32Text(n));
}

/** protobufjs gives a Long that carries its signedness. */
function longText(v: number | Long | undefined): string {
  if (v === undefined) return '0';
  return typeof v === 'number' ? String(v) : Long.fromValue(v).toString();
}

/** RFC 3339 in UTC with 0, 3, 6 or 9 fractional digits, as Go's protojson writes a Timestamp. */
function timestampText(m: ProtoObject): string {
  const sv = m.seconds as number | Long | undefined;
  const seconds = sv === undefined ? 0 : typeof sv === 'number' ? sv : Long.fromValue(sv).toNumber();
  const nanos = (m.nanos as number | undefined) ?? 0;
  // Go refuses a Timestamp outside years 1–9999 (Tesla's server then drops the record); written as is here.
  if (!(Math.abs(seconds) <= 8.64e12)) return `${seconds}s`;
  const iso = new Date(seconds * 1000).toISOString();
  const base = iso.slice(0, iso.lastIndexOf('.'));
  let frac = nanos ? String(nanos).padStart(9, '0') : '';
  while (frac.endsWith('000')) frac = frac.slice(0, -3);
  return `${base}${frac ? `.${frac}` : ''}Z`;
}
