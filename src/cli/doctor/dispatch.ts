/**
 * Online checks of the Tesla-compatible producers (check-config --online): what serve will meet.
 * Redis: connect with the configured credentials and TLS and PING (cluster: discover the masters).
 * ZMQ: bind the configured endpoint and let it go.
 */
import { configPath } from '../../config/load.js';
import type { Config } from '../../config/types.js';
import type { CheckLine } from '../../tls/check.js';

const DISPATCH_CHECK_CAP_MS = 10_000;

function routed(config: Config, name: string): boolean {
  return Object.values(config.records).some((names) => names?.includes(name)) && !(name in config.producers);
}

function withCap<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const cap = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${DISPATCH_CHECK_CAP_MS / 1000} s`)), DISPATCH_CHECK_CAP_MS);
  });
  return Promise.race([p, cap]).finally(() => clearTimeout(timer));
}

async function redisCheck(config: Config): Promise<CheckLine | undefined> {
  if (!routed(config, 'redis') || !config.redis) return undefined;
  const { createClient, createCluster } = await import('@redis/client');
  const { redisEndpoint } = await import('../../producers/redis/options.js');
  let ep;
  try {
    ep = redisEndpoint(config.redis, (p) => configPath(config, p));
  } catch (err) {
    return { status: 'fail', check: 'redis', message: (err as Error).message };
  }
  const at = `${(config.redis.addrs ?? []).join(', ')} (redis.addrs${ep.cluster ? ', cluster' : ''}${ep.tls ? ', TLS' : ''})`;
  const socket = (n?: { host: string; port: number }) => ({
    ...(n ?? {}),
    connectTimeout: DISPATCH_CHECK_CAP_MS,
    reconnectStrategy: false as const,
    ...(ep.tls ? { tls: true as const, ...ep.tls } : {}),
  });
  const common = { username: ep.username, password: ep.password };
  let close: () => void = () => {};
  try {
    if (ep.cluster) {
      const c = createCluster({ rootNodes: ep.nodes.map((n) => ({ socket: socket(n) })), defaults: { ...common, socket: socket() } });
      c.on('error', () => {});
      close = () => c.destroy();
      await withCap(c.connect(), 'the cluster');
      return { status: 'ok', check: 'redis', message: `${at}: cluster of ${c.masters.length} masters reached` };
    }
    const c = createClient({ ...common, database: ep.database, socket: socket(ep.nodes[0]) });
    c.on('error', () => {});
    close = () => c.destroy();
    await withCap(c.connect(), 'Redis');
    const pong = await withCap(c.ping(), 'PING');
    return { status: 'ok', check: 'redis', message: `${at} answered PING with ${String(pong)}${ep.username ? ` (user ${ep.username})` : ''}` };
  } catch (err) {
    return { status: 'fail', check: 'redis', message: `${at}: ${(err as Error).message}` };
  } finally {
    try {
      close();
    } catch {
      // already closed
    }
  }
}

async function zmqCheck(config: Config): Promise<CheckLine | undefined> {
  if (!routed(config, 'zmq') || !config.zmq?.addr) return undefined;
  const addr = config.zmq.addr;
  const { Publisher } = await import('zeromq');
  const sock = new Publisher({ linger: 0 });
  try {
    await withCap(sock.bind(addr), 'bind');
    return { status: 'ok', check: 'zmq', message: `${addr} (zmq.addr) can be bound` };
  } catch (err) {
    return { status: 'fail', check: 'zmq', message: `${addr} (zmq.addr) cannot be bound: ${(err as Error).message}` };
  } finally {
    sock.close();
  }
}

/** Every Tesla-compatible producer's online check, for those routed. */
export async function dispatchChecks(config: Config): Promise<CheckLine[]> {
  const out: CheckLine[] = [];
  for (const check of [redisCheck, zmqCheck]) {
    const line = await check(config);
    if (line) out.push(line);
  }
  return out;
}
