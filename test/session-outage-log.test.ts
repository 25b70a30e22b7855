import t from 'tap';
import { makePki } from './helpers/pki.js';
import { freePort, sleep } from './helpers/ports.js';
import { startServer } from './helpers/server.js';
import { connectVehicle, vFrame } from './helpers/vehicle.js';

// A broker outage is not the vehicles' fault: frames go unanswered (they resend), and the log does
// not get one warn line per unacked frame.
t.test('broker away: no warn line per unacked frame, the log stays small', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const port = await freePort(); // nothing listens there
  const server = await startServer(dir, {
    records: { V: ['mqtt'] },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
    mqtt: {
      broker: `127.0.0.1:${port}`,
      topic_base: 'out',
      qos: 1,
      publish_timeout_ms: 300,
      connect_retry_interval_ms: 200,
      connect_retry_max_interval_ms: 500,
    },
  });
  t.teardown(() => server.stop());
  let bytes = 0;
  server.proc.stdout!.on('data', (c: string) => (bytes += Buffer.byteLength(c)));
  const cars = await Promise.all(
    Array.from({ length: 5 }, async (_, c) => {
      const vin = `5YJ3E1EA7KF00099${c}`;
      return { vin, v: await connectVehicle(server.port, await pki.vehicle(vin), pki.ca.certPem) };
    }),
  );
  const perCar = 400;
  for (const { vin, v } of cars)
    for (let i = 0; i < perCar; i++) v.send(vFrame(`o${i}-${'x'.repeat(2000)}`, vin, [{ key: 'VehicleSpeed', value: { float_value: i } }]));
  await sleep(3000);
  t.ok(
    cars.every(({ v }) => v.responses.length === 0),
    'no response at all while the broker is away',
  );
  const unacked = server.logs.filter((l) => l.event === 'record_unacked');
  t.ok(
    unacked.every((l) => l.level <= 20),
    'record_unacked at debug at most',
  );
  t.ok(unacked.length <= 5 * 3 + 20, `a few record_unacked lines, not one per frame (${unacked.length} for ${5 * perCar} frames)`);
  t.ok(
    unacked.every((l) => String(l.txid).length < 200),
    'txid clipped',
  );
  t.ok(bytes < 100_000, `log bytes ${bytes}`);
  for (const { v } of cars) await v.close();
});
