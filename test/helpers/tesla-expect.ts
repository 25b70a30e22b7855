import { readFrame } from '../../src/envelope/index.js';
import { lookupType } from '../../src/record/schema.js';
import type { ConformanceCase } from './fixtures.js';

/** The protobuf message Tesla's server re-encodes for each record type. */
export const TESLA_TYPES: Record<string, string> = {
  V: 'telemetry.vehicle_data.Payload',
  alerts: 'telemetry.vehicle_alerts.VehicleAlerts',
  errors: 'telemetry.vehicle_error.VehicleErrors',
  connectivity: 'telemetry.vehicle_connectivity.VehicleConnectivity',
};

/** protobufjs' plain object of a message, the form both sides are compared in. */
export function plain(recordType: string, bytes: Uint8Array): Record<string, unknown> {
  const type = lookupType(TESLA_TYPES[recordType]);
  return type.toObject(type.decode(bytes), { longs: String, enums: String, bytes: String, defaults: false });
}

export interface ExpectedDispatch {
  recordType: string;
  txid: string;
  /** The message as Tesla's dispatcher sends it, as plain(). */
  message: Record<string, unknown>;
}

/**
 * What Tesla's dispatcher sends for a vector, built without this server's code: the frame's
 * payload decoded by protobufjs, `vin` set to the certificate's VIN (Tesla's server does so before
 * dispatching), and its V transforms taken from the vector's expected values: a Location string
 * becomes location_value, a scientific-notation string its five-decimal text.
 */
export function expectedDispatch(c: ConformanceCase, vin: string): ExpectedDispatch | undefined {
  if (c.expect.response !== 'ack' || !TESLA_TYPES[c.expect.topic ?? '']) return undefined;
  const f = readFrame(Buffer.from(c.frame_b64, 'base64'));
  if (!f.stream) throw new Error(`vector ${c.name} has no stream message`);
  const recordType = f.recordType;
  const message = plain(recordType, f.stream.payload);
  message.vin = vin;
  if (recordType === 'V') {
    const published = new Map(c.expect.publishes.map((p) => [p.topic.split('/').pop()!, JSON.parse(p.payload).value as unknown]));
    for (const d of (message.data as { key: string; value?: Record<string, unknown> }[] | undefined) ?? []) {
      const s = d.value?.string_value;
      if (typeof s !== 'string') continue;
      const shown = published.get(d.key);
      if (shown && typeof shown === 'object' && 'latitude' in shown) d.value = { location_value: shown };
      else if (typeof shown === 'string' && shown !== s) d.value = { string_value: shown };
    }
  }
  return { recordType, txid: f.txid, message };
}
