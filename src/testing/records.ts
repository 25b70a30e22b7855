import { decodeRecord } from '../record/decode.js';
import { lookupType } from '../record/schema.js';
import type { VRecord, VehicleRecord } from '../plugin/index.js';

/** The VIN of every record the contract produces. */
export const CONTRACT_VIN = '5YJ3E1EA7KF000005';

const CREATED_AT = { seconds: 1700000000, nanos: 0 };

function encode(typeName: string, body: Record<string, unknown>): Uint8Array {
  const type = lookupType(typeName);
  return type.encode(type.fromObject(body)).finish();
}

/**
 * A V record as the server decodes it from a vehicle's frame: one VehicleSpeed datum (mph).
 * Made from real protobuf bytes, so `payload` is what a vehicle sends.
 */
export function contractV(txid: string, speed: number, vin = CONTRACT_VIN): VRecord {
  const keys = lookupType('telemetry.vehicle_data.Datum').fields.key.resolvedType!;
  const payload = encode('telemetry.vehicle_data.Payload', {
    data: [{ key: (keys as unknown as { values: Record<string, number> }).values.VehicleSpeed, value: { float_value: speed } }],
    created_at: CREATED_AT,
    vin,
  });
  return decodeRecord('V', payload, vin, txid) as VRecord;
}

/** One record of each other type: alerts, errors and connectivity (the one the server makes on connect). */
export function contractOthers(vin = CONTRACT_VIN): VehicleRecord[] {
  return [
    decodeRecord(
      'alerts',
      encode('telemetry.vehicle_alerts.VehicleAlerts', {
        alerts: [{ name: 'Contract_a001', audiences: [1], started_at: CREATED_AT }],
        created_at: CREATED_AT,
        vin,
      }),
      vin,
      'contract-alerts',
    ),
    decodeRecord(
      'errors',
      encode('telemetry.vehicle_error.VehicleErrors', {
        errors: [{ name: 'contract_error', body: 'b', tags: { t: 'v' }, created_at: CREATED_AT }],
        created_at: CREATED_AT,
        vin,
      }),
      vin,
      'contract-errors',
    ),
    decodeRecord(
      'connectivity',
      encode('telemetry.vehicle_connectivity.VehicleConnectivity', {
        vin,
        connection_id: '00000000-0000-4000-8000-000000000000',
        status: 1,
        created_at: CREATED_AT,
        network_interface: 'wifi',
      }),
      vin,
      '',
    ),
  ];
}
