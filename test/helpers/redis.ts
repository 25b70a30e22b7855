import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { accepting, deadline, ExitedEarly, freePort, printedTail, sleep, trackChild, untilAccepting, waitUntil } from './ports.js';

export const REDIS_SERVER = ['/usr/bin/redis-server', '/usr/sbin/redis-server'].find((p) => existsSync(p));
export const REDIS_CLI = ['/usr/bin/redis-cli'].find((p) => existsSync(p));

export interface RedisTlsFiles {
  cert: string;
  key: string;
  ca: string;
  /**
   * A client certificate (clientAuth) and key: with TLS a cluster's nodes present one to each
   * other on the cluster bus, where Redis asks for it whatever tls-auth-clients says.
   */
  client?: { cert: string; key: string };
}

export interface RedisServer {
  port: number;
  pid(): number | undefined;
  /** SIGKILL: gone at once, as a crash. */
  kill(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** A real redis-server on a free loopback port, alone (or one node of a cluster), with TLS if asked. */
export async function startRedis(dir: string, opts: { tls?: RedisTlsFiles; cluster?: boolean; port?: number } = {}): Promise<RedisServer> {
  if (!REDIS_SERVER) throw new Error('redis-server is not installed (scripts/test-deps.sh installs it)');
  let port = opts.port ?? (await freePort());
  // A cluster node's bus port, named: by default it is port + 10000, which may fall in the
  // ephemeral range or on another process's port, and the node then exits at once.
  let busPort = opts.cluster ? await freePort() : 0;
  const args = () => {
    const data = join(dir, `redis-${port}`);
    mkdirSync(data, { recursive: true });
    const a = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', data, '--protected-mode', 'no', '--daemonize', 'no', '--logfile', ''];
    if (opts.tls) {
      a.push(
        '--port',
        '0',
        '--tls-port',
        String(port),
        '--tls-cert-file',
        opts.tls.cert,
        '--tls-key-file',
        opts.tls.key,
        '--tls-ca-cert-file',
        opts.tls.ca,
        '--tls-auth-clients',
        'no',
      );
      if (opts.cluster) a.push('--tls-cluster', 'yes');
      if (opts.tls.client) a.push('--tls-client-cert-file', opts.tls.client.cert, '--tls-client-key-file', opts.tls.client.key);
    } else a.push('--port', String(port));
    if (opts.cluster)
      a.push(
        '--cluster-enabled',
        'yes',
        '--cluster-port',
        String(busPort),
        '--cluster-config-file',
        join(data, 'nodes.conf'),
        '--cluster-node-timeout',
        '2000',
      );
    return a;
  };
  let proc: ChildProcess | undefined;
  const start = async () => {
    proc = spawn(REDIS_SERVER, args(), { stdio: ['ignore', 'pipe', 'pipe'] });
    trackChild(proc);
    await untilAccepting(proc, port, 15_000, `redis-server on port ${port}`, printedTail(proc));
  };
  const gone = async (p: ChildProcess) => {
    if (p.exitCode === null && p.signalCode === null) await Promise.race([new Promise((r) => p.once('exit', r)), deadline(5000)]);
    await waitUntil(async () => !(await accepting(port)), 5000, 'redis-server to stop');
  };
  // A port chosen here may be taken before the node binds it: then it exits, and a fresh pair is
  // tried. A port the caller named is kept, and its failure reported.
  for (let tries = 1; ; tries++) {
    try {
      await start();
      break;
    } catch (err) {
      if (!(err instanceof ExitedEarly) || opts.port !== undefined || tries >= 3) throw err;
      port = await freePort();
      if (opts.cluster) busPort = await freePort();
    }
  }
  return {
    port,
    pid: () => proc?.pid,
    kill: async () => {
      const p = proc;
      proc = undefined;
      if (!p || p.exitCode !== null) return;
      p.kill('SIGKILL');
      await gone(p);
    },
    start,
    stop: async () => {
      const p = proc;
      proc = undefined;
      if (!p || p.exitCode !== null) return;
      p.kill('SIGTERM');
      await Promise.race([new Promise((r) => p.once('exit', r)), deadline(3000)]);
      if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
      await gone(p);
    },
  };
}

/** redis-cli with the node's TLS options. */
function cli(port: number, tls: RedisTlsFiles | undefined, args: string[]): string {
  const t = tls ? ['--tls', '--cacert', tls.ca] : [];
  const r = spawnSync(REDIS_CLI!, ['-h', '127.0.0.1', '-p', String(port), ...t, ...args], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`redis-cli ${args.join(' ')}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

/** Three primaries, no replicas, every slot assigned: Tesla's cluster mode. */
export async function startRedisCluster(dir: string, opts: { tls?: RedisTlsFiles } = {}): Promise<RedisServer[]> {
  const nodes: RedisServer[] = [];
  try {
    for (let i = 0; i < 3; i++) nodes.push(await startRedis(dir, { ...opts, cluster: true }));
    cli(nodes[0].port, opts.tls, ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes']);
    await waitUntil(
      () => nodes.every((n) => /cluster_state:ok/.test(cli(n.port, opts.tls, ['cluster', 'info']))),
      30_000,
      'the cluster to be ok on every node',
    );
    // Each node must know every other before a client follows MOVED replies.
    await sleep(500);
    return nodes;
  } catch (err) {
    for (const n of nodes) await n.stop();
    throw err;
  }
}

export interface RedisMessage {
  channel: string;
  value: Buffer;
}

export interface RedisSubscriber {
  /** What arrived, in order (empty with `keep: false`). */
  messages: RedisMessage[];
  /** Messages received so far, kept or not. */
  count(): number;
  waitFor(pred: (m: RedisMessage[]) => boolean, ms: number, what: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * A consumer as Tesla's Redis consumers are: PSUBSCRIBE to every channel, values kept as bytes.
 * `keep: false` only counts (a long benchmark would otherwise hold every message).
 */
export async function subscribeRedis(port: number, opts: { tls?: RedisTlsFiles; pattern?: string; keep?: boolean } = {}): Promise<RedisSubscriber> {
  const { createClient } = await import('@redis/client');
  const { readFileSync } = await import('node:fs');
  // Every test certificate names localhost; some do not name 127.0.0.1.
  const socket = opts.tls
    ? { host: '127.0.0.1', port, tls: true as const, ca: readFileSync(opts.tls.ca), servername: 'localhost' }
    : { host: '127.0.0.1', port };
  const c = createClient({ socket: { ...socket, reconnectStrategy: () => 200 } });
  c.on('error', () => {});
  await c.connect();
  const messages: RedisMessage[] = [];
  const keep = opts.keep ?? true;
  let received = 0;
  await c.pSubscribe(
    opts.pattern ?? '*',
    (value: Buffer, channel: Buffer | string) => {
      received++;
      if (keep) messages.push({ channel: channel.toString(), value });
    },
    true,
  );
  return {
    messages,
    count: () => received,
    waitFor: (pred, ms, what) => waitUntil(() => pred(messages) || undefined, ms, what).then(() => undefined),
    close: async () => {
      try {
        c.destroy();
      } catch {
        // already closed
      }
    },
  };
}
