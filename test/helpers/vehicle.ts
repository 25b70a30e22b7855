import WebSocket from 'ws';
import type protobuf from 'protobufjs';
import { readFrame, writeStreamFrame, type Frame } from '../../src/envelope/index.js';
import { lookupType } from '../../src/record/schema.js';
import type { KeyPairPem } from '../../src/tls/dev-certs.js';
import { deadline, waitUntil } from './ports.js';

export interface Response {
  kind: 'ack' | 'error';
  txid: string;
  topic: string;
  reason?: string;
  frame: Frame;
}

export interface VehicleClient {
  ws: WebSocket;
  responses: Response[];
  send(frame: Uint8Array): void;
  /** Resolves with the response to `txid`, or rejects after `ms`. */
  response(txid: string, ms?: number): Promise<Response>;
  closed: Promise<{ code: number; reason: string }>;
  close(): Promise<void>;
}

/** A vehicle: an mTLS WebSocket client that records every response by txid. */
export async function connectVehicle(
  port: number,
  cert: KeyPairPem | undefined,
  caPem: string,
  opts: { headers?: Record<string, string>; path?: string } = {},
): Promise<VehicleClient> {
  const ws = new WebSocket(`wss://localhost:${port}${opts.path ?? '/'}`, {
    cert: cert?.certPem,
    key: cert?.keyPem,
    ca: caPem,
    headers: opts.headers,
    maxPayload: 64 * 1024 * 1024,
  });
  const responses: Response[] = [];
  ws.on('message', (data: Buffer) => {
    const f = readFrame(data);
    responses.push({
      kind: f.messageType === 5 ? 'ack' : 'error',
      txid: f.txid,
      topic: f.recordType,
      reason: f.messageType === 4 ? Buffer.from(f.stream!.payload).toString('utf8') : undefined,
      frame: f,
    });
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.on('error', () => {});
  return {
    ws,
    responses,
    send: (frame) => ws.send(frame, { binary: true }),
    response: (txid, ms = 10_000) => waitUntil(() => responses.find((r) => r.txid === txid), ms, `response to ${txid}`),
    closed,
    async close() {
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(1000);
      await Promise.race([closed, deadline(2000)]);
      ws.terminate();
    },
  };
}

type Json = Record<string, unknown>;

/** A V payload from datums like `{ key: 'VehicleSpeed', value: { float_value: 65.4 } }`. */
export function vPayload(data: { key: string | number; value: Json }[], vin = ''): Uint8Array {
  const type = lookupType('telemetry.vehicle_data.Payload');
  const fieldEnum = lookupType('telemetry.vehicle_data.Datum').fields.key.resolvedType as protobuf.Enum | null;
  return type
    .encode(
      type.fromObject({
        data: data.map((d) => ({ key: typeof d.key === 'number' ? d.key : fieldEnum!.values[d.key], value: d.value })),
        created_at: { seconds: 1700000000 },
        vin,
      }),
    )
    .finish();
}

export function vFrame(txid: string, vin: string, data: { key: string | number; value: Json }[]): Uint8Array {
  return writeStreamFrame({ txid, recordType: 'V', payload: vPayload(data, vin), senderId: `vehicle_device.${vin}`, createdAt: 1700000000 });
}
