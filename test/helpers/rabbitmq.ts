import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './server.js';
import { accepting, alive, deadline, freePort, killWithTest, trackChild, waitUntil } from './ports.js';

// A 3-node RabbitMQ cluster on loopback, each node its own process, configured from
// deploy/rabbitmq.conf (only addresses, node names and what a sandbox lacks are changed).

/** Debian's real start script: /usr/sbin/rabbitmq-server switches to the rabbitmq user first. */
export const RABBITMQ_SBIN = (() => {
  const lib = '/usr/lib/rabbitmq/lib';
  if (!existsSync(lib)) return undefined;
  const dirs = spawnSync('ls', [lib], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter((d) => d.startsWith('rabbitmq_server-'));
  const sbin = dirs.length ? join(lib, dirs.sort().at(-1)!, 'sbin') : undefined;
  return sbin && existsSync(join(sbin, 'rabbitmq-server')) ? sbin : undefined;
})();
const EPMD = ['/usr/bin/epmd', '/usr/lib/erlang/bin/epmd'].find((p) => existsSync(p));

export const RABBITMQ_USER = 'fleet-telemetry';
export const RABBITMQ_PASSWORD = 'cluster-test-secret';

export interface RabbitNode {
  name: string;
  mqttPort: number;
  /** The beam process (from the pid file), or undefined while it starts or after a kill. */
  beamPid(): number | undefined;
  /** kill -9 of the node's Erlang VM and its start script. */
  kill(): void;
  output(): string;
  /** The node's log file (warnings and errors of the broker itself). */
  log(): string;
}

export interface RabbitCluster {
  nodes: RabbitNode[];
  stop(): Promise<void>;
}

/** deploy/rabbitmq.conf with this cluster's node names and ports; throws when a line it replaces is gone. */
export function rabbitConfig(shipped: string, names: string[], mqttPort: number, amqpPort: number): string {
  let out = shipped;
  const swap = (re: RegExp, to: string) => {
    if (!re.test(out)) throw new Error(`deploy/rabbitmq.conf has no line matching ${re}`);
    out = out.replace(re, to);
  };
  swap(/^cluster_formation\.classic_config\.nodes\.1 = .*$/m, `cluster_formation.classic_config.nodes.1 = ${names[0]}`);
  swap(/^cluster_formation\.classic_config\.nodes\.2 = .*$/m, `cluster_formation.classic_config.nodes.2 = ${names[1]}`);
  swap(/^cluster_formation\.classic_config\.nodes\.3 = .*$/m, `cluster_formation.classic_config.nodes.3 = ${names[2]}`);
  swap(/^mqtt\.listeners\.tcp\.default = .*$/m, `mqtt.listeners.tcp.default = 127.0.0.1:${mqttPort}`);
  // The management plugin is not enabled here (it only adds start-up time); its key would be refused.
  swap(/^management\.tcp\.port = .*$/m, '');
  if (!/^mqtt\.durable_queue_type = quorum$/m.test(out)) throw new Error('deploy/rabbitmq.conf does not ask for quorum queues');
  return (
    out +
    [
      '',
      '## Test only: loopback listeners, and the user the servers and the subscriber sign in with.',
      `listeners.tcp.default = 127.0.0.1:${amqpPort}`,
      `default_user = ${RABBITMQ_USER}`,
      `default_pass = ${RABBITMQ_PASSWORD}`,
      '',
    ].join('\n')
  );
}

/** Starts node 1, then nodes 2 and 3 (classic_config peer discovery joins them), and waits for the cluster. */
export async function startRabbitCluster(dir: string, startMs = 150_000): Promise<RabbitCluster> {
  if (!RABBITMQ_SBIN || !EPMD) throw new Error('rabbitmq-server (and epmd) are not installed');
  const home = join(dir, 'home');
  mkdirSync(home, { recursive: true });
  // The nodes authenticate each other with this cookie; Erlang refuses one others can read.
  const cookie = join(home, '.erlang.cookie');
  writeFileSync(cookie, `FTCLUSTERTEST${Math.random().toString(36).slice(2, 12).toUpperCase()}`);
  chmodSync(cookie, 0o400);
  writeFileSync(join(dir, 'enabled_plugins'), '[rabbitmq_mqtt].\n');
  writeFileSync(join(dir, 'rabbitmq-env.conf'), '');
  const shipped = readFileSync(join(repoRoot(), 'deploy', 'rabbitmq.conf'), 'utf8');

  // Our own epmd on a free port: the system one (if any) is neither used nor disturbed.
  const epmdPort = await freePort();
  const baseEnv: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: home,
    ERL_EPMD_PORT: String(epmdPort),
    RABBITMQ_CONF_ENV_FILE: join(dir, 'rabbitmq-env.conf'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, 'no-advanced.config'),
  };
  const procs: ChildProcess[] = [];
  const epmd = spawn(EPMD, ['-port', String(epmdPort)], { stdio: 'ignore', env: baseEnv });
  trackChild(epmd);
  // Its nodes, epmd included, outlived a test process ended by kill -9 (no exit hook runs) and
  // went on running beside later runs; these watchdogs end them then.
  const disarmEpmd = killWithTest(epmd.pid!);
  epmd.once('exit', disarmEpmd);
  procs.push(epmd);
  await waitUntil(() => accepting(epmdPort), 10_000, 'epmd');

  const names = ['a', 'b', 'c'].map((n) => `rabbit-${n}@localhost`);
  const nodes: RabbitNode[] = [];
  const outs: string[] = [];
  const pidFiles: string[] = [];
  for (const [i, name] of names.entries()) {
    const nd = join(dir, `node-${i}`);
    mkdirSync(join(nd, 'mnesia'), { recursive: true });
    mkdirSync(join(nd, 'log'), { recursive: true });
    const [mqttPort, amqpPort, distPort] = [await freePort(), await freePort(), await freePort()];
    const conf = join(nd, 'rabbitmq.conf');
    writeFileSync(conf, rabbitConfig(shipped, names, mqttPort, amqpPort));
    const pidFile = join(nd, 'beam.pid');
    pidFiles.push(pidFile);
    const proc = spawn(join(RABBITMQ_SBIN, 'rabbitmq-server'), [], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...baseEnv,
        RABBITMQ_NODENAME: name,
        RABBITMQ_NODE_PORT: String(amqpPort),
        RABBITMQ_DIST_PORT: String(distPort),
        RABBITMQ_CONFIG_FILE: conf,
        RABBITMQ_MNESIA_BASE: join(nd, 'mnesia'),
        RABBITMQ_LOG_BASE: join(nd, 'log'),
        RABBITMQ_PID_FILE: pidFile,
      },
      // Its own process group: the script starts the Erlang VM as a child, not by exec, so a
      // kill of the group (by the script's pid) reaches the VM too, even when the test is killed.
      detached: true,
    });
    trackChild(groupOf(proc));
    const disarm = killWithTest(-proc.pid!);
    proc.once('exit', disarm);
    procs.push(proc);
    outs.push('');
    const keep = (c: string) => (outs[i] = (outs[i] + c).slice(-20_000));
    proc.stdout.setEncoding('utf8').on('data', keep);
    proc.stderr.setEncoding('utf8').on('data', keep);
    const beamPid = () => {
      try {
        const p = Number(readFileSync(pidFile, 'utf8').trim());
        return p > 0 ? p : undefined;
      } catch {
        return undefined;
      }
    };
    nodes.push({
      name,
      mqttPort,
      beamPid,
      // The whole group: the start script and its Erlang VM (whose pid file may not be written yet).
      kill: () => {
        const p = beamPid();
        if (p) killPid(p);
        groupOf(proc).kill('SIGKILL');
      },
      output: () => outs[i],
      log: () => readLog(join(nd, 'log', `${name}.log`)),
    });
    // One node at a time. Started together, nodes waited on each other's tables for minutes on a
    // busy machine, and the MQTT plugins of two joining nodes asked RabbitMQ's client-ID tracking
    // (the Raft cluster `mqtt_node`) to add them at once: Raft takes one change at a time and the
    // plugin ignores the refusal, so a node was left out. The cluster then looked whole, but losing
    // node 1 lost the tracking's quorum: every MQTT CONNECT failed ("client ID registration timed
    // out") and the failover run acked nothing more. (Failures to start surface below.)
    await waitUntil(() => /Server startup complete/.test(nodes[i].log()) || proc.exitCode !== null, startMs, `node ${name}`).catch(() => undefined);
  }

  const stop = async () => {
    const beams = nodes.map((n) => n.beamPid()).filter((p): p is number => p !== undefined);
    for (const n of nodes) n.kill();
    for (const p of procs.slice(1)) if (p.exitCode === null && p.signalCode === null) groupOf(p).kill('SIGKILL');
    await Promise.race([
      Promise.all(procs.slice(1).map((p) => (p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise((r) => p.once('exit', r))))),
      deadline(10_000),
    ]);
    // The VMs too (not children of ours, so no exit event): tap removes their directory next.
    await waitUntil(() => !beams.some(alive), 10_000, 'the RabbitMQ VMs to exit').catch(() => undefined);
    if (epmd.exitCode === null && epmd.signalCode === null) epmd.kill('SIGKILL');
  };
  try {
    await waitUntil(
      async () => {
        for (const [i, p] of procs.slice(1).entries()) if (p.exitCode !== null) throw new Error(`${names[i]} exited: ${outs[i].slice(-3000)}`);
        for (const [i, n] of nodes.entries())
          if (!/Server startup complete/.test(readLog(join(dir, `node-${i}`, 'log', `${n.name}.log`))) || !(await accepting(n.mqttPort))) return false;
        return true;
      },
      startMs,
      'three RabbitMQ nodes to start',
    );
    const running = await runningNodes(baseEnv, names[0]);
    if (names.some((n) => !running.includes(n))) {
      const why = nodes.filter((n) => !running.includes(n.name)).map((n) => `${n.name}:\n${n.output().slice(-2000)}`);
      throw new Error(`the nodes did not form one cluster: running ${running.join(', ') || 'none'}\n${why.join('\n')}`);
    }
    // The failover needs MQTT CONNECTs to work on two nodes: the client-ID tracking must span all three.
    let members: string[] = [];
    await waitUntil(
      async () => {
        members = await clientIdTrackers(baseEnv, names[0]);
        return names.every((n) => members.includes(n));
      },
      30_000,
      'MQTT client-ID tracking on all three nodes',
    ).catch(() => {
      throw new Error(`RabbitMQ's MQTT client-ID tracking (Raft cluster mqtt_node) spans ${members.join(', ') || 'no node'}, not all three nodes`);
    });
  } catch (e) {
    await stop();
    throw e;
  }
  return { nodes, stop };
}

/**
 * The running nodes of the cluster as `rabbitmqctl cluster_status` sees them from `node`. No
 * timer: the CLI is an Erlang VM of its own, and under load it took over the 30 s it once had
 * (killed, it printed nothing); tap's timeout still ends a hang.
 */
async function runningNodes(env: NodeJS.ProcessEnv, node: string): Promise<string[]> {
  const p = spawn(join(RABBITMQ_SBIN!, 'rabbitmqctl'), ['-n', node, '--formatter', 'json', 'cluster_status'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  trackChild(p);
  let out = '';
  let err = '';
  p.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  p.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
  const code = await new Promise<number | null>((r) => p.once('close', r));
  try {
    return (JSON.parse(out) as { running_nodes?: string[] }).running_nodes ?? [];
  } catch {
    throw new Error(`rabbitmqctl cluster_status failed (exit ${code}): ${out}${err}`);
  }
}

/** The nodes whose MQTT plugin is a member of the Raft cluster tracking client IDs, as `node` sees it. */
async function clientIdTrackers(env: NodeJS.ProcessEnv, node: string): Promise<string[]> {
  const p = spawn(join(RABBITMQ_SBIN!, 'rabbitmqctl'), ['-n', node, 'eval', 'ra:members({mqtt_node, node()}).'], { env, stdio: ['ignore', 'pipe', 'ignore'] });
  trackChild(p);
  let out = '';
  p.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  await new Promise((r) => p.once('close', r));
  // {ok, [{mqtt_node,'rabbit-a@localhost'}, …], Leader}: the members are the list, before the leader.
  const list = /^\{ok,\s*\[([^\]]*)\]/.exec(out.trim())?.[1] ?? '';
  return [...list.matchAll(/\{mqtt_node,\s*'([^']+)'\}/g)].map((m) => m[1]);
}

function killPid(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** The process group led by `proc` (spawned detached), killed as one. */
function groupOf(proc: ChildProcess): { kill(signal?: NodeJS.Signals): boolean; readonly exitCode: number | null; once(ev: 'exit', fn: () => void): unknown } {
  return {
    kill: (signal = 'SIGTERM') => {
      try {
        process.kill(-proc.pid!, signal);
        return true;
      } catch {
        return false;
      }
    },
    get exitCode() {
      return proc.exitCode ?? (proc.signalCode ? -1 : null);
    },
    once: (ev, fn) => proc.once(ev, fn),
  };
}

function readLog(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
