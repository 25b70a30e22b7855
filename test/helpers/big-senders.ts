import { parentPort, workerData } from 'node:worker_threads';
import { writeStreamFrame } from '../../src/envelope/index.js';
import type { KeyPairPem } from '../../src/tls/dev-certs.js';
import { sleep } from './ports.js';
import { connectVehicle } from './vehicle.js';

// A worker thread of isolation-memory.test.ts: vehicles that each send one frame of `bytes`, and
// how each ended (response kind or close code). In its own thread because masking and encrypting
// 8 × 20 MB blocked the test's event loop, which also timed the victim's acks: seconds on a
// busy machine, charged to the server.

const { port, caPem, certs, bytes } = workerData as { port: number; caPem: string; certs: KeyPairPem[]; bytes: number };
const bigs = await Promise.all(certs.map((c) => connectVehicle(port, c, caPem)));
parentPort!.postMessage({ connected: bigs.length });
await new Promise((r) => parentPort!.once('message', r));
const big = writeStreamFrame({ txid: 'big-1', recordType: 'V', payload: new Uint8Array(bytes).fill(0x41), senderId: 'x', createdAt: 1700000000 });
for (const b of bigs) b.send(big);
// Each ends in a close or a response; poll both so nothing keeps waiting once one has come.
const outcomes = await Promise.all(
  bigs.map(async (b) => {
    let code: number | undefined;
    void b.closed.then((c) => (code = c.code));
    for (const end = Date.now() + 60_000; Date.now() < end; await sleep(20)) {
      const r = b.responses.find((x) => x.txid === 'big-1');
      if (r) return r.kind;
      if (code !== undefined) return `close ${code}`;
    }
    return 'none';
  }),
);
for (const b of bigs) await b.close();
parentPort!.postMessage({ outcomes, length: big.length });
