import t from 'tap';
import { NATS_BINARY } from '../test/helpers/isolation.js';
import { NATS_PASSWORD, NATS_SUBSCRIBER_USER, NATS_USER, startNatsCluster } from '../test/helpers/nats-cluster.js';
import { HAPROXY } from '../test/helpers/haproxy.js';
import { clusterDir, failoverRun, HEAVY_SHAPE } from './failover.js';

// make test-cluster: deploy/nats.conf on 3 real nodes (JetStream + MQTT), both faults under load.
const missing = !NATS_BINARY ? 'nats-server is not installed' : !HAPROXY ? 'haproxy is not installed' : false;

t.test('NATS cluster: kill -9 of a node, then of a server, under resending vehicles (6 × 3 frames/s × 8 fields for 90 s)', { skip: missing }, async (t) => {
  const dir = clusterDir(t);
  const started = Date.now();
  const cluster = await startNatsCluster(dir);
  t.teardown(() => cluster.stop());
  t.comment(`3 NATS nodes with a JetStream leader in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  await failoverRun(
    t,
    dir,
    {
      mqttPorts: cluster.nodes.map((n) => n.mqttPort),
      killNode: (i) => cluster.nodes[i].kill(),
      server: { username: NATS_USER, password: NATS_PASSWORD },
      subscriber: { username: NATS_SUBSCRIBER_USER, password: NATS_PASSWORD },
    },
    HEAVY_SHAPE,
  );
});
