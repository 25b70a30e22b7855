import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, STACK } from './helpers/cli.js';
import { startKafkaMock } from './helpers/kafka-mock.js';
import { KINESALITE_ENV, startKinesalite } from './helpers/kinesalite.js';
import { makePki } from './helpers/pki.js';
import { freePort } from './helpers/ports.js';

// `check-config --online` with records routed to kafka and kinesis: each is tried with the
// config's own settings, one line per finding, exit 1 on a failure. The real CLI throughout.

t.setTimeout(240_000);

async function configIn(dir: string, extra: Record<string, unknown>): Promise<void> {
  const pki = await makePki(dir);
  const c = {
    host: '127.0.0.1',
    port: await freePort(),
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
    ...extra,
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(c, null, 2));
}

t.test('kafka: the brokers answer → ok; gone → a fail line naming bootstrap.servers, exit 1', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ft-doctor-kafka-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const kafka = await startKafkaMock(3);
  t.teardown(() => kafka.stop());
  await configIn(dir, {
    records: { V: ['kafka'] },
    kafka: { 'bootstrap.servers': kafka.bootstrap, 'statistics.interval.ms': 1000, 'socket.nagle.disable': true },
  });
  const ok = await runCli(['check-config', '--online', 'config.json'], dir);
  t.equal(ok.code, 0, ok.stdout + ok.stderr);
  t.match(ok.stdout, /^ok    kafka: \S+ \(kafka\.bootstrap\.servers\) answered: 3 broker\(s\), acks=all$/m);
  t.match(ok.stdout, /^warn  kafka: not used by this server's kafka producer: socket\.nagle\.disable$/m, 'a key without effect here is named');

  await kafka.down(-1);
  const down = await runCli(['check-config', '--online', 'config.json'], dir);
  t.equal(down.code, 1, down.stdout + down.stderr);
  t.match(down.stdout, /^fail  kafka: \S+ \(kafka\.bootstrap\.servers\) is unreachable: /m);
  t.notMatch(down.stdout + down.stderr, STACK);

  await configIn(dir, { records: { V: ['kafka'] }, kafka: { 'bootstrap.servers': kafka.bootstrap, 'compression.type': 'snappy' } });
  const codec = await runCli(['check-config', '--online', 'config.json'], dir);
  t.equal(codec.code, 1);
  t.match(codec.stdout, /^fail  kafka: kafka\.compression\.type: "snappy" is not supported here: use gzip or none$/m);
});

t.test('kinesis: ListStreams answers, then each routed stream must exist', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ft-doctor-kinesis-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'kinesis'));
  const kinesis = await startKinesalite(join(dir, 'kinesis'));
  t.teardown(() => kinesis.stop());
  await configIn(dir, {
    namespace: 'ns',
    records: { V: ['kinesis'], alerts: ['kinesis'] },
    kinesis: { override_host: kinesis.endpoint, streams: { V: 'vehicle_data' } },
  });
  await kinesis.createStream('vehicle_data', 1);
  const missing = await runCli(['check-config', '--online', 'config.json'], dir, { env: KINESALITE_ENV });
  t.equal(missing.code, 1, missing.stdout + missing.stderr);
  t.match(missing.stdout, new RegExp(`^ok    kinesis: http://127\\.0\\.0\\.1:${kinesis.port} \\(kinesis\\.override_host\\) answered ListStreams$`, 'm'));
  t.match(missing.stdout, /^ok    kinesis: stream vehicle_data \(record type V\) is ACTIVE$/m);
  t.match(missing.stdout, /^fail  kinesis: stream ns_alerts \(record type alerts\) does not exist: create it/m);
  t.match(missing.stdout, /^fail  kinesis: stream ns_connectivity \(record type connectivity\) does not exist/m, 'connectivity records go there too');

  await kinesis.createStream('ns_alerts', 1);
  await kinesis.createStream('ns_connectivity', 1);
  const ok = await runCli(['check-config', '--online', 'config.json'], dir, { env: KINESALITE_ENV });
  t.equal(ok.code, 0, ok.stdout + ok.stderr);

  await kinesis.stop();
  const gone = await runCli(['check-config', '--online', 'config.json'], dir, { env: KINESALITE_ENV });
  t.equal(gone.code, 1);
  t.match(gone.stdout, /^fail  kinesis: http:\/\/127\.0\.0\.1:\d+ \(kinesis\.override_host\) is unreachable or refused the request: /m);
  t.notMatch(gone.stdout + gone.stderr, STACK);
});
