import type protobuf from 'protobufjs';
import { lookupEnum, lookupType } from './schema.js';
import { decodeVPayload } from './v-decode.js';
import type { Alert, Instant, VehicleErrorEntry, VehicleRecord } from './types.js';
import { DecodeError } from '../errors.js';

export { DecodeError };

interface LongLike {
  toString(): string;
}
interface TimestampMsg {
  seconds?: number | LongLike;
  nanos?: number;
}

function instant(t: TimestampMsg | null | undefined): Instant | undefined {
  if (!t) return undefined;
  const s = t.seconds;
  return { seconds: s === undefined ? 0n : BigInt(typeof s === 'number' ? s : s.toString()), nanos: t.nanos ?? 0 };
}

function enumNamer(name: string): (n: number) => string {
  const byId = lookupEnum(name).valuesById;
  return (n) => byId[n] ?? String(n);
}

function safeDecode(type: protobuf.Type, payload: Uint8Array): Record<string, unknown> {
  try {
    return type.decode(payload);
  } catch (err) {
    throw new DecodeError(`${type.name}: ${(err as Error).message}`, { cause: err });
  }
}

type Decoder = (payload: Uint8Array, vin: string, txid: string) => VehicleRecord;

function alertsDecoder(): Decoder {
  const type = lookupType('telemetry.vehicle_alerts.VehicleAlerts');
  const audience = enumNamer('telemetry.vehicle_alerts.Audience');
  return (payload, vin, txid) => {
    const m = safeDecode(type, payload);
    const alerts: Alert[] = ((m.alerts as Record<string, unknown>[]) ?? []).map((a) => ({
      name: (a.name as string) ?? '',
      audiences: ((a.audiences as number[]) ?? []).map(audience),
      startedAt: instant(a.started_at as TimestampMsg),
      endedAt: instant(a.ended_at as TimestampMsg),
    }));
    return { type: 'alerts', vin, txid, payload, alerts, createdAt: instant(m.created_at as TimestampMsg) };
  };
}

function errorsDecoder(): Decoder {
  const type = lookupType('telemetry.vehicle_error.VehicleErrors');
  return (payload, vin, txid) => {
    const m = safeDecode(type, payload);
    const errors: VehicleErrorEntry[] = ((m.errors as Record<string, unknown>[]) ?? []).map((e) => ({
      name: (e.name as string) ?? '',
      body: (e.body as string) ?? '',
      tags: { ...((e.tags as Record<string, string>) ?? {}) },
      createdAt: instant(e.created_at as TimestampMsg),
    }));
    return { type: 'errors', vin, txid, payload, errors, createdAt: instant(m.created_at as TimestampMsg) };
  };
}

function connectivityDecoder(): Decoder {
  const type = lookupType('telemetry.vehicle_connectivity.VehicleConnectivity');
  const status = enumNamer('telemetry.vehicle_connectivity.ConnectivityEvent');
  return (payload, vin, txid) => {
    const m = safeDecode(type, payload);
    return {
      type: 'connectivity',
      vin,
      txid,
      payload,
      connectionId: (m.connection_id as string) ?? '',
      status: status((m.status as number) ?? 0),
      networkInterface: (m.network_interface as string) ?? '',
      createdAt: instant(m.created_at as TimestampMsg),
    };
  };
}

const vDecoder: Decoder = (payload, vin, txid) => {
  try {
    return { type: 'V', vin, txid, payload, ...decodeVPayload(payload) };
  } catch (err) {
    throw new DecodeError(`Payload: ${(err as Error).message}`, { cause: err });
  }
};

let decoders: Map<string, Decoder> | undefined;

/** Record types the server knows how to decode (docs/protocol.md §4), each with its decoder. */
export function recordDecoders(): Map<string, Decoder> {
  return (decoders ??= new Map<string, Decoder>([
    ['V', vDecoder],
    ['alerts', alertsDecoder()],
    ['errors', errorsDecoder()],
    ['connectivity', connectivityDecoder()],
  ]));
}

export const KNOWN_RECORD_TYPES = ['V', 'alerts', 'errors', 'connectivity'] as const;

/** Decodes a record; throws DecodeError for a payload that is not its message. */
export function decodeRecord(recordType: string, payload: Uint8Array, vin: string, txid: string): VehicleRecord {
  const d = recordDecoders().get(recordType);
  if (!d) throw new DecodeError(`unknown record type ${recordType}`);
  return d(payload, vin, txid);
}
