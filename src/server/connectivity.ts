import { lookupType } from '../record/schema.js';
import type { ConnectivityRecord } from '../record/types.js';
import type { SessionInfo } from './session.js';

const STATUS = { CONNECTED: 1, DISCONNECTED: 2 } as const;

/** The record the server makes on a vehicle's connect and disconnect (§4). */
export function makeConnectivityRecord(info: SessionInfo, status: keyof typeof STATUS, now = Date.now()): ConnectivityRecord {
  const seconds = Math.floor(now / 1000);
  const nanos = (now % 1000) * 1_000_000;
  const type = lookupType('telemetry.vehicle_connectivity.VehicleConnectivity');
  const payload = type
    .encode(
      type.create({
        vin: info.vin,
        connection_id: info.connectionId,
        status: STATUS[status],
        created_at: { seconds, nanos },
        network_interface: info.networkInterface,
      }),
    )
    .finish();
  return {
    type: 'connectivity',
    vin: info.vin,
    txid: '',
    payload,
    connectionId: info.connectionId,
    status,
    networkInterface: info.networkInterface,
    createdAt: { seconds: BigInt(seconds), nanos },
  };
}
