import t from 'tap';
import { startMonitored } from './helpers/monitored.js';
import { waitUntil } from './helpers/ports.js';
import { connectVehicle, vFrame } from './helpers/vehicle.js';

// A vehicle that reconnects in a loop is still served every time, but it does not decide how
// much the server logs: 5 connect and 5 disconnect lines a minute per VIN, the rest counted.
const FLAPPER = '5YJ3E1EA7KF000201';
const STEADY = '5YJ3E1EA7KF000202';
const speed = (v: number) => [{ key: 'VehicleSpeed', value: { float_value: v } }];

async function suppressed(port: number, event: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = new RegExp(`^fleet_telemetry_log_lines_suppressed_total\\{event="${event}"\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

t.test('connect and disconnect lines: 5 a minute per VIN, then counted; every connection still served', async (t) => {
  // One process: the limit is per process, and the counts below are exact.
  const { pki, server, port } = await startMonitored(t.testdir(), { workers: 1 });
  t.teardown(() => server.stop());
  const flapper = await pki.vehicle(FLAPPER);
  for (let i = 0; i < 9; i++) {
    const v = await connectVehicle(server.port, flapper, pki.ca.certPem);
    v.send(vFrame(`flap-${i}`, FLAPPER, speed(i)));
    t.equal((await v.response(`flap-${i}`)).kind, 'ack', `connection ${i + 1}: its frame acked`);
    await v.close();
  }
  const steady = await connectVehicle(server.port, await pki.vehicle(STEADY), pki.ca.certPem);
  await steady.close();
  await waitUntil(async () => (await suppressed(port, 'vehicle_disconnected')) === 4, 10_000, '4 disconnect lines counted, not written');
  await waitUntil(() => server.logs.some((l) => l.event === 'vehicle_disconnected' && l.vin === STEADY), 10_000, "the other vehicle's disconnect line");
  const lines = (event: string, vin: string) => server.logs.filter((l) => l.event === event && l.vin === vin).length;
  t.equal(lines('vehicle_connected', FLAPPER), 5, 'the flapping vehicle: 5 connect lines of 9');
  t.equal(lines('vehicle_disconnected', FLAPPER), 5, 'and 5 disconnect lines of 9');
  t.equal(await suppressed(port, 'vehicle_connected'), 4, 'the 4 others counted in /metrics');
  t.equal(lines('vehicle_connected', STEADY), 1, 'another vehicle still gets its connect line');
  t.equal(lines('vehicle_disconnected', STEADY), 1, 'and its disconnect line');
  t.equal(server.logs.find((l) => l.event === 'vehicle_connected' && l.vin === STEADY)?.remote, '127.0.0.1', 'the connect line names the address');
});
