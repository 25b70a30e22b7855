import t from 'tap';
import { RABBITMQ_PASSWORD, RABBITMQ_SBIN, RABBITMQ_USER, startRabbitCluster } from '../test/helpers/rabbitmq.js';
import { HAPROXY } from '../test/helpers/haproxy.js';
import { assertNoStall, makeLink, sparse } from '../test/helpers/nudge.js';
import { waitUntil } from '../test/helpers/ports.js';
import { clusterDir, failoverRun } from './failover.js';

// make test-cluster: deploy/rabbitmq.conf on 3 real nodes (quorum queues), both faults under load.
const missing = !RABBITMQ_SBIN ? 'rabbitmq-server is not installed' : !HAPROXY ? 'haproxy is not installed' : false;

t.test('RabbitMQ cluster: kill -9 of a node, then of a server, under resending vehicles', { skip: missing }, async (t) => {
  const dir = clusterDir(t);
  const started = Date.now();
  const cluster = await startRabbitCluster(dir);
  t.teardown(() => cluster.stop());
  t.comment(`3 RabbitMQ nodes clustered in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  // The PINGREQ nudge on RabbitMQ too (the other brokers: test/mqtt-nudge-brokers.test.ts). QoS 1
  // only: RabbitMQ 3.10's MQTT plugin has no QoS 2 for publishers.
  await t.test('a lone vehicle is acked without the Nagle/delayed-ACK stall', async (t) => {
    const { link } = makeLink(t, `mqtt://127.0.0.1:${cluster.nodes[0].mqttPort}`, {}, { username: RABBITMQ_USER, password: RABBITMQ_PASSWORD });
    await waitUntil(() => link.connected, 15_000, 'connected to RabbitMQ');
    assertNoStall(t, await sparse(link, 1, 'rabbitmq'), 'RabbitMQ QoS 1');
  });
  await failoverRun(t, dir, {
    mqttPorts: cluster.nodes.map((n) => n.mqttPort),
    killNode: (i) => cluster.nodes[i].kill(),
    server: { username: RABBITMQ_USER, password: RABBITMQ_PASSWORD },
    subscriber: { username: RABBITMQ_USER, password: RABBITMQ_PASSWORD },
  });
  if (!t.passing()) {
    for (const n of cluster.nodes.slice(1)) {
      const bad = n
        .log()
        .split('\n')
        .filter((l) => /\[(warning|error)\]/.test(l))
        .slice(-12);
      t.comment(`${n.name} warnings and errors:\n${bad.join('\n')}`);
    }
  }
});
