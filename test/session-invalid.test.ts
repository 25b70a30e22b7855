import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makePki } from './helpers/pki.js';
import { sleep } from './helpers/ports.js';
import { startServer } from './helpers/server.js';
import { connectVehicle, vFrame } from './helpers/vehicle.js';

// A producer that says a record can never be produced (err.permanent === true, as InvalidRecord)
// makes the server answer with an error naming the reason: silence would have the vehicle resend
// it forever. Other rejections still get no response at all.
const VIN = '5YJ3E1EA7KF000901';

const PLUGIN = `
export default function createProducer({ name }) {
  return {
    name,
    async produce(record) {
      if (record.txid.startsWith('never')) {
        const err = new Error('topic level too long for the broker: ' + 'z'.repeat(300));
        err.permanent = true;
        throw err;
      }
      if (record.txid.startsWith('later')) throw new Error('broker away for now');
    },
  };
}
`;

t.test('permanent rejection: error response naming the message; transient: no response', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const module = join(dir, 'strict-producer.js');
  writeFileSync(module, PLUGIN);
  const server = await startServer(dir, {
    records: { V: ['strict'] },
    producers: { strict: { module } },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
    mqtt: { broker: 'embedded', embedded_port: 0 },
    monitoring: { prometheus_metrics_port: 0 },
  });
  t.teardown(() => server.stop());
  const monitoring = (await server.waitForLog((l) => l.event === 'monitoring_listening')).port as number;
  const v = await connectVehicle(server.port, await pki.vehicle(VIN), pki.ca.certPem);
  const speed = [{ key: 'VehicleSpeed', value: { float_value: 1 } }];

  v.send(vFrame('never-1', VIN, speed));
  v.send(vFrame('later-1', VIN, speed));
  v.send(vFrame('fine-1', VIN, speed));
  const r = await v.response('never-1', 5000);
  t.equal(r.kind, 'error', 'an error response');
  t.match(r.reason, /^topic level too long for the broker: z+$/, "naming the producer's message");
  t.equal((await v.response('fine-1', 5000)).kind, 'ack', 'other records of the connection still acked');
  await sleep(500);
  t.notOk(
    v.responses.some((x) => x.txid === 'later-1'),
    'a transient rejection: no response (the vehicle resends)',
  );
  t.equal(v.responses.length, 2, 'one response per answered frame');

  const text = await (await fetch(`http://127.0.0.1:${monitoring}/metrics`)).text();
  t.match(text, /frames_received_total\{[^}]*outcome="error_invalid"[^}]*\} 1\b/, 'counted as outcome error_invalid');
  t.match(text, /frames_received_total\{[^}]*outcome="unacked"[^}]*\} 1\b/, 'the transient one as unacked');
  const line = server.logs.find((l) => l.event === 'record_invalid');
  t.ok(line, 'logged');
  t.ok(JSON.stringify(line).length < 1000, 'with the reason clipped');
  await v.close();
});
