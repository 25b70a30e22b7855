import { parentPort, workerData } from 'node:worker_threads';
import { writeStreamFrame } from '../../src/envelope/index.js';
import type { KeyPairPem } from '../../src/tls/dev-certs.js';
import { vPayloadBytes } from '../../bench/lib/fields.js';
import { connectVehicle } from './vehicle.js';

// A worker thread of session-fairness.test.ts: the vehicle pipelining `frames` 50-field frames,
// posting how many were acked and refused. In its own thread because encoding, masking and
// encrypting them, and parsing their acks, held the test's event loop, which also stamped the
// victim's acks: the victim's p99 counted the test's own work.

const { port, caPem, cert, vin, frames } = workerData as { port: number; caPem: string; cert: KeyPairPem; vin: string; frames: number };
const v = await connectVehicle(port, cert, caPem);
const post = () => {
  let acked = 0;
  for (const r of v.responses) if (r.kind === 'ack') acked++;
  parentPort!.postMessage({ acked, errors: v.responses.length - acked });
};
parentPort!.postMessage({ connected: true });
await new Promise((r) => parentPort!.once('message', r));
const payload = vPayloadBytes(vin, 50);
for (let i = 0; i < frames; i++)
  v.send(writeStreamFrame({ txid: `burst-${i}`, recordType: 'V', payload, senderId: `vehicle_device.${vin}`, createdAt: 1700000000 }));
const timer = setInterval(post, 50);
await new Promise((r) => parentPort!.once('message', r));
clearInterval(timer);
post();
await v.close();
parentPort!.postMessage({ closed: true });
