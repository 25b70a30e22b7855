import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NATS_BINARY } from './isolation.js';
import { repoRoot } from './server.js';
import { accepting, deadline, freePort, killWithTest, trackChild, waitUntil } from './ports.js';

// A 3-node NATS cluster with JetStream and MQTT on loopback, configured from deploy/nats.conf
// (only names, addresses and the store directory are changed).

export const NATS_USER = 'fleet-telemetry';
export const NATS_SUBSCRIBER_USER = 'subscriber';
export const NATS_PASSWORD = 'cluster-test-secret';

export interface NatsNode {
  name: string;
  mqttPort: number;
  pid(): number | undefined;
  /** kill -9 of the node. */
  kill(): void;
  output(): string;
}

export interface NatsCluster {
  nodes: NatsNode[];
  stop(): Promise<void>;
}

/** deploy/nats.conf for node `i`; throws when a line it replaces is gone. */
export function natsConfig(shipped: string, i: number, ports: { client: number; route: number; mqtt: number }[], store: string): string {
  let out = shipped;
  const swap = (re: RegExp, to: string) => {
    if (!re.test(out)) throw new Error(`deploy/nats.conf has no line matching ${re}`);
    out = out.replace(re, to);
  };
  swap(/^server_name: .*$/m, `server_name: ft_nats_${i + 1}`);
  swap(/^listen: .*$/m, `listen: 127.0.0.1:${ports[i].client}`);
  swap(/^(\s+)store_dir: .*$/m, `$1store_dir: "${store}"`);
  swap(/^(\s+)listen: 0\.0\.0\.0:6222$/m, `$1listen: 127.0.0.1:${ports[i].route}`);
  for (const k of [0, 1, 2]) swap(new RegExp(`nats-route://nats${k + 1}:6222`), `nats-route://127.0.0.1:${ports[k].route}`);
  swap(/^(\s+)port: 1883$/m, `$1listen: 127.0.0.1:${ports[i].mqtt}`);
  if (!/stream_replicas: 3/.test(out)) throw new Error('deploy/nats.conf does not replicate MQTT streams on 3 nodes');
  return out;
}

/** Starts three nodes at once and waits until each accepts MQTT and JetStream has a meta leader. */
export async function startNatsCluster(dir: string, startMs = 60_000): Promise<NatsCluster> {
  if (!NATS_BINARY) throw new Error('nats-server is not installed');
  const shipped = readFileSync(join(repoRoot(), 'deploy', 'nats.conf'), 'utf8');
  const ports: { client: number; route: number; mqtt: number }[] = [];
  for (let i = 0; i < 3; i++) ports.push({ client: await freePort(), route: await freePort(), mqtt: await freePort() });
  const procs: ChildProcess[] = [];
  const outs: string[] = [];
  const nodes: NatsNode[] = [];
  for (let i = 0; i < 3; i++) {
    const store = join(dir, `nats-${i}`);
    mkdirSync(store, { recursive: true });
    const conf = join(dir, `nats-${i}.conf`);
    writeFileSync(conf, natsConfig(shipped, i, ports, store));
    // The shipped file reads the passwords from nats-server's environment.
    const proc = spawn(NATS_BINARY, ['-c', conf], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FLEET_TELEMETRY_MQTT_PASSWORD: NATS_PASSWORD, SUBSCRIBER_MQTT_PASSWORD: NATS_PASSWORD },
    });
    trackChild(proc);
    // Also when this test process is ended by kill -9 (tap's timeout), which no exit hook sees.
    proc.once('exit', killWithTest(proc.pid!));
    procs.push(proc);
    outs.push('');
    const keep = (c: string) => (outs[i] = (outs[i] + c).slice(-20_000));
    proc.stdout.setEncoding('utf8').on('data', keep);
    proc.stderr.setEncoding('utf8').on('data', keep);
    nodes.push({
      name: `ft_nats_${i + 1}`,
      mqttPort: ports[i].mqtt,
      pid: () => (proc.exitCode === null && proc.signalCode === null ? proc.pid : undefined),
      kill: () => {
        if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      },
      output: () => outs[i],
    });
  }
  const stop = async () => {
    const exits = procs.filter((p) => p.exitCode === null && p.signalCode === null).map((p) => new Promise((r) => p.once('exit', r)));
    for (const n of nodes) n.kill();
    await Promise.race([Promise.all(exits), deadline(10_000)]);
  };
  try {
    await waitUntil(
      async () => {
        for (const [i, p] of procs.entries()) if (p.exitCode !== null) throw new Error(`nats node ${i + 1} exited: ${outs[i].slice(-3000)}`);
        for (const n of nodes) if (!(await accepting(n.mqttPort))) return false;
        // MQTT needs JetStream, which needs a meta leader elected among the three.
        return outs.some((o) => /JetStream cluster new metadata leader|Self is new JetStream cluster metadata leader/.test(o));
      },
      startMs,
      'three NATS nodes with a JetStream leader',
    );
  } catch (e) {
    await stop();
    throw e;
  }
  return { nodes, stop };
}
