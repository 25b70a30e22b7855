import type { Test } from 'tap';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { makePki } from '../test/helpers/pki.js';
import { repoRoot, startServer, type ServerProcess } from '../test/helpers/server.js';
import { startBrokerLb, startVehicleLb } from '../test/helpers/haproxy.js';
import { accepting, deadline, sleep, waitUntil } from '../test/helpers/ports.js';
import { Car } from './fleet.js';

// The failover run of issue #21, the same for every clustered broker: 2 servers behind
// deploy/haproxy.cfg, resending vehicles, a persistent QoS 1 subscriber; kill -9 of broker
// node 1, which holds the subscriber's and both servers' connections, later kill -9 of the
// server holding more vehicles.

/**
 * The folder of a cluster run, removed after everything of the run has stopped. tap removes a
 * t.testdir() folder before it runs any teardown: the NATS nodes, still running, wrote JetStream
 * files into it, the removal failed (ENOTEMPTY), and no teardown ran, so nodes, servers and
 * proxies stayed up until tap's timeout. Registered before any other teardown, this removal runs
 * after them all (tap runs the last registered first). Named per process: a second run in this
 * checkout would otherwise empty it under the running nodes.
 */
export function clusterDir(t: Test): string {
  const dir = join(repoRoot(), '.tap', 'fixtures', `cluster-${t.name.replace(/[^A-Za-z0-9]+/g, '-').slice(0, 60)}-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  t.teardown(() => rmSync(dir, { recursive: true, force: true, maxRetries: 5 }));
  return dir;
}

export interface ClusterUnderTest {
  /** Each node's MQTT port; the subscriber starts on the first, which is the one killed. */
  mqttPorts: number[];
  killNode(i: number): void;
  server: { username: string; password: string };
  subscriber: { username: string; password: string };
}

export interface RunShape {
  vehicles: number;
  periodMs: number;
  resendMs: number;
  produceMs: number;
  nodeKillAtMs: number;
  serverKillAtMs: number;
  /** After production ends: time for every frame to be acked, then for the subscriber to have them. */
  drainMs: number;
  /** Acks must resume within this after each fault (generous: the machine is shared). */
  recoverMs: number;
  /** Fields per frame (default 4). */
  fields?: number;
}

// NATS took 13 to 28 s to ack again after losing the node that held every connection (its
// JetStream leaders move first), so the server is killed well after that and the bound is wide.
export const DEFAULT_SHAPE: RunShape = {
  vehicles: 6,
  periodMs: 500,
  resendMs: 2000,
  produceMs: 55_000,
  nodeKillAtMs: 10_000,
  serverKillAtMs: 40_000,
  drainMs: 40_000,
  recoverMs: 45_000,
};

/**
 * Issue #29's load, under which a broker slowed by the failover used to collapse (62.7 % of
 * frames acked, 8,175 duplicate fields): 6 vehicles, 3 frames/s of 8 fields for 90 s, the node
 * killed at +25 s, a server at +55 s.
 */
export const HEAVY_SHAPE: RunShape = {
  vehicles: 6,
  periodMs: 333,
  resendMs: 2000,
  produceMs: 90_000,
  nodeKillAtMs: 25_000,
  serverKillAtMs: 55_000,
  drainMs: 40_000,
  recoverMs: 45_000,
  fields: 8,
};

const TOPIC_BASE = 'fleet';

/** The broker connections a server made: its first and each reconnection. */
const brokerLinks = (s: ServerProcess) => s.logs.filter((l) => l.event === 'mqtt_connected' || l.event === 'mqtt_reconnected').length;

export async function failoverRun(t: Test, dir: string, cluster: ClusterUnderTest, shape: RunShape = DEFAULT_SHAPE): Promise<void> {
  const pki = await makePki(dir);
  const brokerLb = await startBrokerLb(dir, cluster.mqttPorts);
  t.teardown(() => brokerLb.stop());

  // Subscribed before any traffic, clean session off: the broker keeps its queue while it is away.
  const received = new Map<string, Set<number>>();
  let messages = 0;
  const sub = mqtt.connect({
    servers: cluster.mqttPorts.map((port) => ({ host: '127.0.0.1', port })),
    clientId: 'ft-cluster-subscriber',
    clean: false,
    reconnectPeriod: 300,
    connectTimeout: 5000,
    username: cluster.subscriber.username,
    password: cluster.subscriber.password,
  });
  sub.on('error', () => {});
  let subConnects = 0;
  sub.on('connect', () => subConnects++);
  sub.on('message', (topic, payload) => {
    messages++;
    const v = (JSON.parse(payload.toString('utf8')) as { value: number }).value;
    let s = received.get(topic);
    if (!s) received.set(topic, (s = new Set()));
    s.add(v);
  });
  t.teardown(() => sub.endAsync(true));
  await new Promise<void>((resolve, reject) => {
    sub.once('connect', () => resolve());
    setTimeout(() => reject(new Error('subscriber did not connect')), 20_000).unref();
  });
  await sub.subscribeAsync(`${TOPIC_BASE}/+/v/+`, { qos: 1 });

  const servers: ServerProcess[] = [];
  for (const i of [1, 2]) {
    const s = await startServer(dir, {
      status_port: 0,
      records: { V: ['mqtt'] },
      tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
      mqtt: {
        broker: `mqtt://127.0.0.1:${brokerLb.port}`,
        qos: 1,
        client_id: `ft-cluster-server-${i}`,
        topic_base: TOPIC_BASE,
        connect_retry_interval_ms: 300,
        username: cluster.server.username,
        password: cluster.server.password,
      },
    });
    t.teardown(() => s.stop('SIGKILL').catch(() => undefined));
    servers.push(s);
  }
  for (const [i, s] of servers.entries()) {
    await s
      .waitForLog((l) => l.event === 'mqtt_connected', 60_000)
      .catch((e: Error) => {
        const tail = s.logs
          .slice(-8)
          .map((l) => JSON.stringify(l))
          .join('\n');
        throw new Error(`server ${i + 1}: ${e.message}; its last log lines:\n${tail}\nbroker haproxy:\n${brokerLb.lines.slice(-8).join('\n')}`);
      });
  }
  const lb = await startVehicleLb(servers.map((s) => ({ port: s.port, statusPort: s.statusPort! })));
  t.teardown(() => lb.stop());

  const start = Date.now();
  const cars = Array.from({ length: shape.vehicles }, (_, i) => new Car(`5YJ3E1EA7KF3000${String(i + 10)}`, i + 1, lb.port, pki, TOPIC_BASE, shape));
  t.teardown(() => cars.forEach((c) => c.stop()));
  const runs = cars.map((c) => c.run(start + shape.produceMs));

  await sleep(shape.nodeKillAtMs - (Date.now() - start));
  // The broker LB logs the node each connection reached: every server link must be on node 1,
  // which the kill is meant to take from both.
  const reached = (n: number) => brokerLb.lines.filter((l) => l.includes(` mqtt nodes/node${n} `)).length;
  const elsewhere = reached(2) + reached(3);
  const linksAtKill = servers.map(brokerLinks);
  const nodeKilledAt = Date.now();
  cluster.killNode(0);
  await waitUntil(async () => !(await accepting(cluster.mqttPorts[0])), 10_000, 'broker node 1 to be gone');
  t.comment(`kill -9 of broker node 1 (the subscriber's and both servers') at +${((nodeKilledAt - start) / 1000).toFixed(1)} s`);
  // Vehicles keep producing while the run waits for the servers below (moved again after the server kill).
  cars.forEach((c) => (c.produceUntil = nodeKilledAt + shape.recoverMs + (shape.produceMs - shape.serverKillAtMs)));

  // The server kill waits until both servers are back on the broker: NATS moves its JetStream
  // leaders first, and a server killed while still reconnecting could not show that it reconnects.
  const relinked = await waitUntil(() => servers.every((s, i) => brokerLinks(s) > linksAtKill[i]), shape.recoverMs, 'both servers back on the broker').then(
    () => Date.now(),
    () => undefined,
  );
  await sleep(shape.serverKillAtMs - (Date.now() - start));
  const open = servers.map((s) => {
    const c = s.logs.filter((l) => l.event === 'vehicle_connected').length;
    const d = s.logs.filter((l) => l.event === 'vehicle_disconnected').length;
    return c - d;
  });
  const victim = open[0] >= open[1] ? 0 : 1;
  const serverKilledAt = Date.now();
  servers[victim].proc.kill('SIGKILL');
  t.comment(`kill -9 of server ${victim + 1} (${open[victim]} of ${shape.vehicles} vehicles) at +${((serverKilledAt - start) / 1000).toFixed(1)} s`);
  const produceEnd = serverKilledAt + (shape.produceMs - shape.serverKillAtMs);
  cars.forEach((c) => (c.produceUntil = produceEnd));

  // Production ends; then every car resends until all is acked, within drainMs.
  await Promise.race([Promise.all(runs), deadline(produceEnd - Date.now() + shape.drainMs)]);
  cars.forEach((c) => c.stop());
  const acked = cars.flatMap((c) => [...c.frames.values()].filter((f) => f.ackedAt !== undefined));
  const total = cars.reduce((n, c) => n + c.frames.size, 0);
  const missingOf = () => acked.reduce((n, f) => n + ([...f.fields].some(([topic, v]) => !received.get(topic)?.has(v)) ? 1 : 0), 0);
  await waitUntil(() => missingOf() === 0, shape.drainMs, 'every acked frame at the subscriber').catch(() => undefined);

  const errors = cars.flatMap((c) => c.errors);
  const recovery = (at: number) => cars.map((c) => c.firstAckAfter(at)).map((a) => (a === undefined ? Infinity : a - at));
  const afterNode = recovery(nodeKilledAt);
  const afterServer = recovery(serverKilledAt);
  const fmt = (xs: number[]) => xs.map((ms) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(1)}` : 'never')).join(', ');
  const fieldsAcked = acked.reduce((n, f) => n + f.fields.size, 0);
  t.comment(
    `frames ${total}, acked ${acked.length}, resends ${cars.reduce((n, c) => n + c.resends, 0)}, ` +
      `connections ${cars.reduce((n, c) => n + c.connections, 0)}, subscriber messages ${messages} for ${fieldsAcked} acked fields ` +
      `(${messages - fieldsAcked} duplicates), run ${((Date.now() - start) / 1000).toFixed(1)} s`,
  );
  const links = servers.map(brokerLinks);
  t.comment(`subscriber connections ${subConnects}; broker connections per server ${links.join(', ')}`);
  t.comment(`first ack per vehicle after the node kill (s): ${fmt(afterNode)}`);
  t.comment(`first ack per vehicle after the server kill (s): ${fmt(afterServer)}`);

  if (acked.length < total) {
    // What the servers' broker links said, to tell a broker that never answered from one that refused.
    for (const [i, s] of servers.entries()) {
      const mq = s.logs.filter((l) => typeof l.event === 'string' && l.event.startsWith('mqtt_')).slice(-6);
      t.comment(`server ${i + 1} broker link: ${mq.map((l) => JSON.stringify({ event: l.event, reason: l.reason, broker: l.broker })).join(' ')}`);
    }
    t.comment(`broker haproxy: ${brokerLb.lines.slice(-6).join(' | ')}`);
  }
  t.same(errors, [], '0 error responses');
  t.equal(acked.length, total, `every frame eventually acked (${acked.length} of ${total})`);
  t.ok(total >= shape.vehicles * 10, `the vehicles sent frames throughout (${total})`);
  t.equal(missingOf(), 0, 'every acked frame has all its fields at the persistent subscriber');
  t.ok(Math.max(...afterNode) <= shape.recoverMs, `acks resumed for every vehicle after the node kill (slowest ${fmt([Math.max(...afterNode)])} s)`);
  t.ok(Math.max(...afterServer) <= shape.recoverMs, `acks resumed for every vehicle after the server kill (slowest ${fmt([Math.max(...afterServer)])} s)`);
  t.equal(elsewhere, 0, `every server's broker connection was on node 1 when it was killed (${reached(1)} connections to node 1, ${elsewhere} elsewhere)`);
  t.ok(
    relinked !== undefined,
    `both servers lost their broker connection to node 1 and reconnected before the server kill (${links.join(', ')} connections` +
      (relinked !== undefined ? `, both back ${((relinked - nodeKilledAt) / 1000).toFixed(1)} s after the node kill)` : ')'),
  );
  t.ok(subConnects >= 2, `the subscriber lost its node and resumed its session on another (${subConnects} connections)`);
  t.ok(
    cars.every((c) => c.connections >= 1),
    'every vehicle connected through deploy/haproxy.cfg',
  );
}
