import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { Batch, MqttLink } from '../src/producers/mqtt/link.js';
import { parseBrokerUrl } from '../src/producers/mqtt/transport.js';
import type { Publish } from '../src/publish/plan.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { sleep, waitUntil } from './helpers/ports.js';

// A stock mosquitto (Nagle on) holds its next PUBACKs until our kernel's delayed ACK: 44 ms per
// sparse record. The link ends that wait by writing a PINGREQ when acknowledgements are still
// outstanding and nothing else is about to be written. The latency itself is measured in the
// benchmarks (bench/README.md); here, what goes over the wire, read from mosquitto's own log.

t.test('sparse records: PINGREQs while acknowledgements are outstanding, none when idle, for QoS 1 and 2', async (t) => {
  const dir = t.testdir();
  const logFile = join(dir, 'mosquitto.log');
  const mosq = await startMosquitto(dir, { extraConfig: `log_dest file ${logFile}\nlog_type all\n` });
  t.teardown(() => mosq.stop());
  const clientId = `nudge-${process.pid}`;
  const link = new MqttLink({
    endpoint: parseBrokerUrl(mosq.url, {}),
    // A minute of keep-alive: no PINGREQ of its own during the test.
    connect: { clientId, keepAliveSeconds: 60, cleanSession: true },
    connectTimeoutMs: 2000,
    retryMaxMs: 1000,
    publishTimeoutMs: 2500,
    qos2Window: 20,
    logger: pino({ level: 'silent' }),
  });
  link.start();
  t.teardown(() => link.close(100));
  await waitUntil(() => link.connected, 5000, 'connected');
  const pingreqs = () =>
    readFileSync(logFile, 'utf8')
      .split('\n')
      .filter((l) => l.includes(`Received PINGREQ from ${clientId}`)).length;

  for (const qos of [1, 2] as const) {
    const before = pingreqs();
    const nudgesBefore = link.nudges;
    for (let i = 0; i < 10; i++) {
      const pubs: Publish[] = Array.from({ length: 20 }, (_, k) => ({ topic: `n/${qos}/${i}/${k}`, payload: String(k), qos, retain: false }));
      const err = await new Promise<Error | undefined>((resolve) => link.send(new Batch(pubs, resolve, Date.now() + 2500)));
      t.equal(err, undefined, `QoS ${qos} record ${i} acknowledged`);
    }
    await sleep(300);
    const nudged = pingreqs() - before;
    t.ok(nudged >= 1, `QoS ${qos}: ${nudged} PINGREQs sent while acknowledgements were outstanding`);
    t.ok(nudged <= 10 * 20, 'bounded by the reads that brought acknowledgements');
    t.equal(link.nudges - nudgesBefore, nudged, 'every PINGREQ mosquitto read was a nudge the link counted');
  }
  const idle = pingreqs();
  await sleep(1000);
  t.equal(pingreqs(), idle, 'nothing in flight: no PINGREQ at all');
});
