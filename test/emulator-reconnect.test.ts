import t from 'tap';
import { EmulatedVehicle, emulatorVin } from '../src/emulator/index.js';
import { makePki, type TestPki } from './helpers/pki.js';
import { freePort, sleep, waitUntil } from './helpers/ports.js';
import { startServer } from './helpers/server.js';

// The emulator and an absent or dying server: exponential backoff while nobody listens, then a
// server killed with frames in flight, a reconnect, and those frames resent and acked.

function tlsOf(pki: TestPki) {
  return { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile };
}

t.test('no server yet, then a server restart: backoff, reconnect, unanswered frames resent', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const port = await freePort();
  const vin = emulatorVin(70);
  const v = new EmulatedVehicle({
    vin,
    url: `wss://localhost:${port}/`,
    ca: pki.ca.certPem,
    cert: await pki.vehicle(vin),
    rate: 20,
    backoffMs: 100,
    backoffMaxMs: 800,
  });
  t.teardown(() => v.stop());
  v.start();
  await sleep(1600);
  // Waits of 100, 200, 400, 800, 800 ms (each 50–100% with jitter): a handful of attempts, not sixteen.
  const failures = v.stats.connectFailures;
  t.ok(failures >= 3 && failures <= 8, `${failures} failed attempts in 1.6 s`);
  t.match(v.stats.lastConnectError, /ECONNREFUSED/);

  // One process even under make test-workers: SIGSTOP below must freeze whatever serves the vehicle.
  const config = { port, workers: 1, records: { V: ['mqtt'] }, tls: tlsOf(pki), mqtt: { broker: 'embedded', embedded_port: 0 } };
  let server = await startServer(dir, config);
  await waitUntil(() => v.stats.total().counts.acked >= 10, 15_000, 'acks from the first server');
  // Frozen, then killed: frames sent to it are certain to be left unanswered.
  server.proc.kill('SIGSTOP');
  // Acks the server wrote just before it froze may still arrive and free a few slots; only once
  // frames queue behind the window is it certain to be full (generation refills it at 20/s).
  let most = 0;
  const sample = setInterval(() => (most = Math.max(most, v.inFlight)), 5);
  await waitUntil(() => v.outstanding > v.tuning.window + 2, 5000, 'frames queued behind a full window to a frozen server');
  // On a loaded machine the last acks of before the freeze can still be read after that; frames
  // made at 20/s then fill the freed slots and queue again, and nothing can empty the window.
  await sleep(300);
  await waitUntil(() => v.inFlight === v.tuning.window && v.outstanding > v.tuning.window, 5000, 'a full window with frames queued behind it');
  clearInterval(sample);
  t.equal(v.inFlight, v.tuning.window, 'the window is full while frames wait');
  t.ok(most <= v.tuning.window, `never more than the window in flight (most seen ${most})`);
  t.ok(v.outstanding > v.tuning.window, 'the rest waits in the queue');
  server.proc.kill('SIGKILL');
  await server.exited;
  await waitUntil(() => v.stats.disconnects === 1, 5000, 'the vehicle to notice');
  t.equal(v.connected, false);
  const ackedBefore = v.stats.total().counts.acked;
  server = await startServer(dir, config);
  t.teardown(() => server.stop());
  await waitUntil(() => v.stats.connects === 2 && v.stats.total().counts.acked > ackedBefore + 5, 15_000, 'acks from the second server');
  v.stopGenerating();
  t.ok(await v.whenFinished(20_000), 'every frame reaches an outcome');
  const c = v.stats.total().counts;
  t.equal(c.acked, c.generated, `all ${c.generated} acked`);
  t.equal(c.sent, c.generated, 'each counted as sent once');
  t.equal(c.errored, 0);
  t.ok(c.resent >= 1, `frames unanswered by the dead server were resent (${c.resent})`);
  t.equal(v.stats.connects, 2, `one reconnect (${v.stats.connects} connects, ${v.stats.disconnects} lost, ${v.stats.connectFailures} failed)`);
});
