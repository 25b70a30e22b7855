import type { Test } from 'tap';
import type { ConformanceCase } from './fixtures.js';
import type { VehicleClient } from './vehicle.js';

/** Each conformance vector in turn, as one vehicle sends it, answered as the vector expects. */
export async function sendVectors(t: Test, vehicle: VehicleClient, cases: ConformanceCase[], ms = 20_000): Promise<void> {
  for (const c of cases) {
    vehicle.send(Buffer.from(c.frame_b64, 'base64'));
    const r = await vehicle.response(c.expect.txid, ms);
    t.equal(r.kind, c.expect.response, `${c.name}: response kind`);
  }
}
