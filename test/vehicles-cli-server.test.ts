import t from 'tap';
import { runCli, testdir } from './helpers/cli.js';
import { waitUntil } from './helpers/ports.js';
import { startMonitored } from './helpers/monitored.js';
import { connectVehicle, vFrame } from './helpers/vehicle.js';

// `fleet-telemetry vehicles` against the real server's GET /api/fleet (issue #23). It passes only
// where the fleet view of the monitoring port is merged; vehicles-cli.test.ts covers the command
// against a stand-in for the contract.
const CAR = '5YJ3E1EA7KF000301';
const GONE = '5YJ3E1EA7KF000302';

t.test('vehicles CLI against the real server', async (t) => {
  const dir = testdir(t);
  const { pki, server, port } = await startMonitored(dir);
  t.teardown(() => server.stop());

  const car = await connectVehicle(server.port, await pki.vehicle(CAR), pki.ca.certPem);
  car.send(
    vFrame('s-1', CAR, [
      { key: 'VehicleName', value: { string_value: 'Test Car' } },
      { key: 'VehicleSpeed', value: { float_value: 42 } },
      { key: 'Soc', value: { double_value: 77.5 } },
    ]),
  );
  await car.response('s-1');
  const gone = await connectVehicle(server.port, await pki.vehicle(GONE), pki.ca.certPem);
  gone.send(vFrame('g-1', GONE, [{ key: 'VehicleSpeed', value: { float_value: 0 } }]));
  await gone.response('g-1');
  await gone.close();

  const url = `http://127.0.0.1:${port}`;
  // The fleet view may take a moment to show the disconnection; a server without it fails here at once.
  await waitUntil(
    async () => {
      const res = await fetch(`${url}/api/fleet`);
      if (res.status === 404) throw new Error('GET /api/fleet answered 404: the fleet view is not in this server');
      const body = (await res.json()) as { vehicles?: { vin: string; connected: boolean }[] };
      return body.vehicles?.some((v) => v.vin === GONE && !v.connected);
    },
    15_000,
    'the fleet view showing the disconnection',
  );
  const r = await runCli(['vehicles', '--url', url], dir);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^1\/2 connected · /, 'health: one of two connected');
  t.match(r.stdout, new RegExp(`\\n${CAR}  Test Car +connected +(just now|\\d+s ago) +1 +3 +77\\.5% +42 `), 'the car: name, state, frames, fields, soc, speed');
  t.match(r.stdout, new RegExp(`\\n${GONE}  - +disconnected (just now|\\d+s ago) `), 'the other: disconnected');

  const json = await runCli(['vehicles', '--url', url, '--json'], dir);
  t.equal(json.code, 0);
  const body = JSON.parse(json.stdout) as { vehicles: { vin: string }[] };
  t.same(
    body.vehicles.map((v) => v.vin),
    [CAR, GONE],
    'sorted by VIN',
  );
  await car.close();
});
