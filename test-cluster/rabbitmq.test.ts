import t from 'tap';
import { RABBITMQ_PASSWORD, RABBITMQ_SBIN, RABBITMQ_USER, startRabbitCluster } from '../test/helpers/rabbitmq.js';
import { HAPROXY } from '../test/helpers/haproxy.js';
import { failoverRun } from './failover.js';

// make test-cluster: deploy/rabbitmq.conf on 3 real nodes (quorum queues), both faults under load.
const missing = !RABBITMQ_SBIN ? 'rabbitmq-server is not installed' : !HAPROXY ? 'haproxy is not installed' : false;

t.test('RabbitMQ cluster: kill -9 of a node, then of a server, under resending vehicles', { skip: missing }, async (t) => {
  const dir = t.testdir();
  const started = Date.now();
  const cluster = await startRabbitCluster(dir);
  t.teardown(() => cluster.stop());
  t.comment(`3 RabbitMQ nodes clustered in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  await failoverRun(t, dir, {
    mqttPorts: cluster.nodes.map((n) => n.mqttPort),
    killNode: (i) => cluster.nodes[i].kill(),
    server: { username: RABBITMQ_USER, password: RABBITMQ_PASSWORD },
    subscriber: { username: RABBITMQ_USER, password: RABBITMQ_PASSWORD },
  });
  if (!t.passing()) {
    for (const n of cluster.nodes.slice(1)) {
      const bad = n.log().split('\n').filter((l) => /\[(warning|error)\]/.test(l)).slice(-12);
      t.comment(`${n.name} warnings and errors:\n${bad.join('\n')}`);
    }
  }
});
