/** A decoded record, ready for the publish plan and for producers. */
export type VehicleRecord = VRecord | AlertsRecord | ErrorsRecord | ConnectivityRecord;

interface RecordBase {
  /** The certificate's VIN: nothing inside a frame can change it. */
  vin: string;
  /** The frame's txid ('' for records the server makes). */
  txid: string;
  /** The protobuf payload as received (or as made, for connectivity). */
  payload: Uint8Array;
  /** When the server took the frame up (epoch ms); set by the server, read by Tesla-compatible producers. */
  receivedAt?: number;
  /** The connection's `Version` request header; set by the server, read by Tesla-compatible producers. */
  clientVersion?: string;
}

/** One datum of a V record: its Field name and its value already as JSON text (§6). */
export interface Datum {
  key: number;
  name: string;
  json: string;
}

export interface VRecord extends RecordBase {
  type: 'V';
  data: Datum[];
  createdAt?: Instant;
}

/** A point in time: seconds since the epoch (exact) and nanoseconds. */
export interface Instant {
  seconds: bigint;
  nanos: number;
}

export interface Alert {
  name: string;
  audiences: string[];
  startedAt?: Instant;
  endedAt?: Instant;
}

export interface AlertsRecord extends RecordBase {
  type: 'alerts';
  alerts: Alert[];
  createdAt?: Instant;
}

export interface VehicleErrorEntry {
  name: string;
  body: string;
  tags: Record<string, string>;
  createdAt?: Instant;
}

export interface ErrorsRecord extends RecordBase {
  type: 'errors';
  errors: VehicleErrorEntry[];
  createdAt?: Instant;
}

export interface ConnectivityRecord extends RecordBase {
  type: 'connectivity';
  connectionId: string;
  /** ConnectivityEvent name, or its decimal number when unknown. */
  status: string;
  networkInterface: string;
  createdAt?: Instant;
}

export type RecordType = VehicleRecord['type'];
