import { readFrame } from '../../src/envelope/index.js';
import { decodeRecord } from '../../src/record/decode.js';
import { float32Text } from '../../src/record/numbers.js';
import { lookupType } from '../../src/record/schema.js';
import type { VehicleRecord } from '../../src/record/types.js';
import { dispatchMessage, TESLA_MESSAGE_TYPES } from '../../src/producers/dispatch/index.js';
import { canonicalJson, type ConformanceCase } from './fixtures.js';

/** The record a conformance frame carries, decoded as the server decodes it. */
export function caseRecord(c: ConformanceCase): VehicleRecord | undefined {
  try {
    const f = readFrame(Buffer.from(c.frame_b64, 'base64'));
    return f.stream && decodeRecord(f.recordType, f.stream.payload, c.vin, f.txid);
  } catch {
    return undefined;
  }
}

/** A protobuf value as a plain object: enums by name, 64-bit integers as strings, defaults left out. */
export function plainMessage(recordType: VehicleRecord['type'], bytes: Uint8Array): Record<string, unknown> {
  const type = lookupType(TESLA_MESSAGE_TYPES[recordType]);
  return type.toObject(type.decode(bytes), { enums: String, longs: String, defaults: false });
}

/** What Tesla's dispatcher sends for the frame's record, as a plain object. */
export function expectedPlain(c: ConformanceCase): Record<string, unknown> | undefined {
  const rec = caseRecord(c);
  return rec && plainMessage(rec.type, dispatchMessage(rec).value);
}

/** Tesla's JSON of the frame's record (`transmit_decoded_records`), parsed: Go spaces its output at random, so consumers compare it parsed. */
export function expectedJson(c: ConformanceCase): Record<string, unknown> | undefined {
  const rec = caseRecord(c);
  return rec && (JSON.parse(Buffer.from(dispatchMessage(rec, { decoded: true }).value).toString('utf8')) as Record<string, unknown>);
}

type Plain = Record<string, unknown>;
const b = (o: Plain, k: string) => o[k] === true;

/**
 * The §6 JSON of one datum's value read back from the protobuf a consumer got: an independent
 * check that the bytes say what the MQTT side of the same vector says.
 */
export function valueAsContractJson(value: Plain | undefined): unknown {
  if (!value) return null;
  const [k, v] = Object.entries(value)[0] ?? [];
  if (k === undefined) return null;
  switch (k) {
    case 'float_value':
      return Number(float32Text(v as number));
    case 'long_value':
      return Number(v);
    case 'invalid':
      return null;
    case 'location_value': {
      const l = v as Plain;
      return { latitude: (l.latitude as number) ?? 0, longitude: (l.longitude as number) ?? 0 };
    }
    case 'door_value': {
      const d = v as Plain;
      return Object.fromEntries(['DriverFront', 'PassengerFront', 'DriverRear', 'PassengerRear', 'TrunkFront', 'TrunkRear'].map((n) => [n, b(d, n)]));
    }
    case 'time_value': {
      const t = v as Plain;
      const p = (n: unknown) => String((n as number) ?? 0).padStart(2, '0');
      return `${p(t.hour)}:${p(t.minute)}:${p(t.second)}`;
    }
    case 'tire_location_value': {
      const t = v as Plain;
      const names = [
        'front_left',
        'front_right',
        'rear_left',
        'rear_right',
        'semi_middle_axle_left_2',
        'semi_middle_axle_right_2',
        'semi_rear_axle_left',
        'semi_rear_axle_right',
        'semi_rear_axle_left_2',
        'semi_rear_axle_right_2',
      ];
      return Object.fromEntries(names.map((n) => [n, b(t, n)]));
    }
    default:
      return v;
  }
}

/** For a V vector: each datum the consumer got against the MQTT publish the vector expects for it. */
export function vDatumMismatches(c: ConformanceCase, got: Plain): string[] {
  const out: string[] = [];
  const want = new Map(c.expect.publishes.map((p) => [p.topic.split('/v/')[1], (JSON.parse(p.payload) as { value: unknown }).value]));
  for (const d of (got.data as Plain[] | undefined) ?? []) {
    const name = String(d.key);
    if (!want.has(name)) continue;
    const have = canonicalJson(JSON.stringify(valueAsContractJson(d.value as Plain)));
    const expect = canonicalJson(JSON.stringify(want.get(name)));
    if (have !== expect) out.push(`${name}: got ${have}, the vector says ${expect}`);
  }
  return out;
}
