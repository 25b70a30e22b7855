import Long from 'long';
import type protobuf from 'protobufjs';
import { scientificString } from '../../record/numbers.js';
import { lookupType } from '../../record/schema.js';
import { FIELD_LOCATION } from '../../record/transforms.js';
import type { VehicleRecord } from '../../record/types.js';
import { parseGoLocation } from './location.js';

/** The protobuf message of each record type Tesla's server re-encodes before dispatching. */
export const TESLA_MESSAGE_TYPES: Readonly<Record<VehicleRecord['type'], string>> = {
  V: 'telemetry.vehicle_data.Payload',
  alerts: 'telemetry.vehicle_alerts.VehicleAlerts',
  errors: 'telemetry.vehicle_error.VehicleErrors',
  connectivity: 'telemetry.vehicle_connectivity.VehicleConnectivity',
};

/** A decoded message as protobufjs holds it (field names as in the .proto files). */
export type ProtoObject = Record<string, unknown>;

export interface TeslaMessage {
  type: protobuf.Type;
  message: ProtoObject;
}

interface TimestampObject {
  seconds?: number | Long;
  nanos?: number;
}

/** Seconds from which an alert timestamp is taken to be milliseconds (Go's longest Duration in seconds). */
const MS_SECONDS = Long.fromString('315576000000');

function toLong(v: number | Long | undefined): Long {
  if (v === undefined) return Long.ZERO;
  return typeof v === 'number' ? Long.fromNumber(v) : Long.fromValue(v);
}

/** Tesla's alert timestamp rule: a seconds count that is really milliseconds is read as such (sub-millisecond nanos dropped). */
function alertTimestamp(t: TimestampObject | null | undefined): TimestampObject | null | undefined {
  if (!t) return t;
  const seconds = toLong(t.seconds);
  if (seconds.lessThan(MS_SECONDS)) return t;
  return { seconds: seconds.div(1000), nanos: seconds.mod(1000).toNumber() * 1_000_000 };
}

interface ValueObject {
  string_value?: string;
}
interface DatumObject {
  key?: number;
  value?: ValueObject | null;
}

/** Only the first Location datum is looked at, as Tesla's server does. */
function transformLocation(data: DatumObject[]): void {
  for (const d of data) {
    if ((d.key ?? 0) !== FIELD_LOCATION) continue;
    const s = d.value?.string_value;
    if (s) {
      const loc = parseGoLocation(s);
      if (loc) d.value = { location_value: loc } as ValueObject;
    }
    return;
  }
}

function transformScientific(data: DatumObject[]): void {
  for (const d of data) {
    const s = d.value?.string_value;
    if (!s) continue;
    const fixed = scientificString(s);
    if (fixed !== undefined) d.value = { string_value: fixed };
  }
}

/**
 * The record's message as Tesla's server holds it before dispatching: the payload decoded, `vin`
 * set to the certificate's VIN, and Tesla's transforms applied (V: Location string → location,
 * scientific-notation strings → five decimals; alerts: millisecond timestamps).
 */
export function teslaMessage(record: VehicleRecord): TeslaMessage {
  const type = lookupType(TESLA_MESSAGE_TYPES[record.type]);
  const message = type.decode(record.payload) as unknown as ProtoObject;
  message.vin = record.vin;
  if (record.type === 'V') {
    const data = (message.data as DatumObject[] | undefined) ?? [];
    transformLocation(data);
    transformScientific(data);
  } else if (record.type === 'alerts') {
    for (const a of (message.alerts as Record<string, unknown>[] | undefined) ?? []) {
      if (a.started_at) a.started_at = alertTimestamp(a.started_at);
      if (a.ended_at) a.ended_at = alertTimestamp(a.ended_at);
    }
  }
  return { type, message };
}

/** The protobuf bytes Tesla's dispatchers send for a message from teslaMessage. */
export function encodeTeslaMessage(m: TeslaMessage): Uint8Array {
  return m.type.encode(m.message).finish();
}
