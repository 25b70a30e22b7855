import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEmbeddedBroker } from '../src/broker/embedded.js';

import { issueCert } from '../src/tls/dev-certs.js';
import { NATS_BINARY, startNats } from './helpers/isolation.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { makePki } from './helpers/pki.js';
import { freePort, sleep, waitUntil } from './helpers/ports.js';
import { assertNoStall, makeLink, sparse } from './helpers/nudge.js';

// The PINGREQ nudge (src/producers/mqtt/nudge.ts) against every broker here but RabbitMQ (make
// test-cluster runs it there), for a lone vehicle: one 20-publish record in flight at a time. A stalled record waits for the
// delayed ACK (≥ 40 ms on Linux), so a stall allows at most WINDOW_MS / 40 records and makes each
// take 40 ms; the link must ack more, few of them that slowly (test/helpers/nudge.ts). Where the broker writes a log of packets (mosquitto, nats-server), it
// must also show the PINGREQs that ended the wait. The latency itself is in bench/README.md.

t.test('embedded aedes (in the server process, as `broker: embedded` runs it): QoS 1 and 2 acked without a stall', async (t) => {
  const broker = await startEmbeddedBroker('127.0.0.1', 0);
  t.teardown(() => broker.close());
  const { link } = makeLink(t, `mqtt://127.0.0.1:${broker.port}`);
  await waitUntil(() => link.connected, 5000, 'connected');
  for (const qos of [1, 2] as const) assertNoStall(t, await sparse(link, qos, 'aedes'), `aedes QoS ${qos}`);
});

t.test('stock mosquitto over TLS: QoS 1 and 2 acked without a stall, PINGREQs while acks were outstanding', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const cert = await issueCert(pki.ca, { commonName: 'localhost', kind: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  writeFileSync(join(dir, 'broker.pem'), cert.certPem);
  writeFileSync(join(dir, 'broker.key'), cert.keyPem);
  const port = await freePort();
  const logFile = join(dir, 'mosquitto.log');
  const mosq = await startMosquitto(dir, {
    port,
    listener: [`listener ${port} 127.0.0.1`, `cafile ${pki.caFile}`, `certfile ${join(dir, 'broker.pem')}`, `keyfile ${join(dir, 'broker.key')}`].join('\n'),
    extraConfig: `log_dest file ${logFile}\nlog_type all\n`,
  });
  t.teardown(() => mosq.stop());
  const { link, clientId } = makeLink(t, `mqtts://localhost:${port}`, { caFile: pki.caFile });
  await waitUntil(() => link.connected, 10_000, 'connected over TLS');
  const pingreqs = () =>
    readFileSync(logFile, 'utf8')
      .split('\n')
      .filter((l) => l.includes(`Received PINGREQ from ${clientId}`)).length;
  for (const qos of [1, 2] as const) {
    const before = pingreqs();
    const r = await sparse(link, qos, 'tls');
    assertNoStall(t, r, `mosquitto TLS QoS ${qos}`);
    await sleep(200);
    const nudged = pingreqs() - before;
    t.ok(nudged >= 1, `mosquitto TLS QoS ${qos}: ${nudged} PINGREQs went out while acks were outstanding`);
    t.ok(nudged <= r.acked * 20, 'at most one per read that brought acknowledgements');
  }
  const idle = pingreqs();
  await sleep(1000);
  t.equal(pingreqs(), idle, 'nothing in flight: no PINGREQ at all');
});

/** nats-server's version (x.y.z) as numbers. */
function natsVersion(): number[] {
  const out = execFileSync(NATS_BINARY!, ['--version'], { encoding: 'utf8' });
  return (/v?(\d+)\.(\d+)\.(\d+)/.exec(out) ?? []).slice(1).map(Number);
}

t.test(
  'nats-server (MQTT on JetStream): QoS 1 acked without a stall, and QoS 2 where the server has it',
  { skip: NATS_BINARY ? false : 'nats-server is not installed' },
  async (t) => {
    const dir = t.testdir();
    const nats = await startNats(dir);
    t.teardown(() => nats.stop());
    const { link } = makeLink(t, nats.url);
    await waitUntil(() => link.connected, 10_000, 'connected to nats-server');
    assertNoStall(t, await sparse(link, 1, 'nats'), 'nats-server QoS 1');
    // MQTT QoS 2 came with nats-server 2.10; before, a QoS 2 PUBLISH closes the connection.
    const [major, minor] = natsVersion();
    if (major > 2 || (major === 2 && minor >= 10)) assertNoStall(t, await sparse(link, 2, 'nats'), 'nats-server QoS 2');
    else t.comment(`nats-server ${major}.${minor} has no MQTT QoS 2: skipped`);
  },
);

t.test('stock mosquitto, a busy link (8 records of 20 in flight): the deferred nudge still ends every stall', async (t) => {
  const dir = t.testdir();
  const mosq = await startMosquitto(dir);
  t.teardown(() => mosq.stop());
  const { link } = makeLink(t, mosq.url);
  await waitUntil(() => link.connected, 5000, 'connected');
  // 160 publishes in flight: past the link's busy mark, so its nudge waits a millisecond first.
  const lanes = 8;
  const runs = await Promise.all(Array.from({ length: lanes }, (_, i) => sparse(link, 1, `busy${i}`)));
  assertNoStall(t, runs, `${lanes} lanes`);
  t.ok(link.nudges >= 1, `${link.nudges} nudges went out`);
});
